/// An immutable context: a JSON object and its encoded bytes, shared between tasks without copying.
///
/// A task that passes its input on unchanged, or whose dependencies changed nothing, hands the very same snapshot
/// on: no merging, no re-encoding.
public final class ContextSnapshot: Sendable {
    public let object: [String: JSONValue]
    /// The object as JSON text.
    public let bytes: [UInt8]

    /// A snapshot of `object`, encoded canonically.
    public init(_ object: [String: JSONValue]) {
        self.object = object
        self.bytes = JSONValue.object(object).serialized()
    }

    /// A snapshot of bytes already known to encode `object`.
    public init(object: [String: JSONValue], bytes: [UInt8]) {
        self.object = object
        self.bytes = bytes
    }

    /// Parses `bytes`, which must hold a JSON object.
    public init(parsing bytes: [UInt8]) throws(ContextError) {
        let value: JSONValue
        do {
            value = try JSONValue(parsing: bytes)
        } catch {
            throw ContextError(message: "\(error)")
        }
        guard case .object(let object) = value else {
            throw ContextError(message: "expected a JSON object, got \(value.kindName)")
        }
        self.object = object
        self.bytes = bytes
    }
}

extension ContextSnapshot: Equatable {
    /// Snapshots are equal when they encode the same object (the same snapshot, or the same bytes).
    public static func == (lhs: ContextSnapshot, rhs: ContextSnapshot) -> Bool {
        lhs === rhs || lhs.bytes == rhs.bytes
    }
}

/// Bytes that are not a JSON object where a context was expected.
public struct ContextError: Error, Sendable, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}
