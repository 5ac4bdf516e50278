internal import Synchronization

#if canImport(Glibc)
internal import Glibc
#endif

/// An immutable context: a JSON object and its encoded bytes, shared between tasks without copying.
///
/// A snapshot is encoded once, on first use, and that one encoding is what every task reading it is handed. A
/// snapshot also knows where each top-level member's value lies in its bytes, so a task's output is read against
/// its input member by member: an output equal to its input is that input (``output(_:of:)``), and a member
/// whose text is the input's takes the input's value instead of a new copy. A task that passes its input on
/// unchanged, or whose dependencies changed nothing, hands the very same snapshot on: no merging, no re-encoding.
public final class ContextSnapshot: Sendable {
    public let object: [String: JSONValue]
    private let encoding: Mutex<Encoding>

    /// The bytes, and where each member's value text lies in them; or, before the first use, the snapshots whose
    /// text the members can be copied from.
    private enum Encoding: Sendable {
        case encoded(bytes: [UInt8], ranges: [String: Range<Int>]?)
        case pending(base: ContextSnapshot?, sources: [String: ContextSnapshot], fresh: Set<String>)
    }

    /// A snapshot of `object`, encoded canonically (keys sorted) when first needed.
    public init(_ object: [String: JSONValue]) {
        self.object = object
        self.encoding = Mutex(.pending(base: nil, sources: [:], fresh: []))
    }

    /// A snapshot of `object`, whose members are `base`'s but for the keys in `sources`, which are those of the
    /// snapshot named there, and the keys in `fresh`, which are new values: encoded when first needed, by copying
    /// each member's text from where it came from (when that snapshot is encoded; else the value is written).
    init(
        _ object: [String: JSONValue],
        base: ContextSnapshot,
        sources: [String: ContextSnapshot] = [:],
        fresh: Set<String> = []
    ) {
        self.object = object
        // Only snapshots encoded already lend their text: others are not kept alive for it.
        let lenders = sources.filter { $0.value.encodedIfAvailable != nil }
        let written = fresh.union(sources.keys.filter { lenders[$0] == nil })
        let base = base.encodedIfAvailable != nil ? base : nil
        self.encoding = Mutex(.pending(base: base, sources: lenders, fresh: written))
    }

    /// A snapshot of bytes already known to encode `object`.
    public init(object: [String: JSONValue], bytes: [UInt8]) {
        self.object = object
        self.encoding = Mutex(.encoded(bytes: bytes, ranges: nil))
    }

    private init(members: JSONObjectMembers, bytes: [UInt8]) {
        self.object = members.values
        self.encoding = Mutex(.encoded(bytes: bytes, ranges: members.ranges))
    }

    /// Parses `bytes`, which must hold a JSON object.
    public convenience init(parsing bytes: [UInt8]) throws(ContextError) {
        self.init(members: try Self.members(of: bytes, reference: nil), bytes: bytes)
    }

    /// A task's output read against its `input`: the input itself when the bytes are the same; otherwise a new
    /// snapshot whose members with the input's text share the input's values (nothing of them is rebuilt).
    public static func output(_ bytes: [UInt8], of input: ContextSnapshot) throws(ContextError) -> ContextSnapshot {
        let (given, ranges) = input.encoded
        if Self.equal(bytes, given) { return input }
        let members: Result<JSONObjectMembers, ContextError> = given.withUnsafeBufferPointer { base in
            Result { () throws(ContextError) in
                try Self.members(of: bytes) { key in
                    guard let range = ranges?[key], let value = input.object[key] else { return nil }
                    return (value, UnsafeBufferPointer(rebasing: base[range]))
                }
            }
        }
        return ContextSnapshot(members: try members.get(), bytes: bytes)
    }

    /// The object as JSON text, encoded once.
    public var bytes: [UInt8] { encoded.bytes }

    /// The bytes and member ranges, encoding the object on first use (keys sorted).
    private var encoded: (bytes: [UInt8], ranges: [String: Range<Int>]?) {
        encoding.withLock { encoding in
            switch encoding {
            case .encoded(let bytes, let ranges): return (bytes, ranges)
            case .pending(let base, let sources, let fresh):
                let (bytes, ranges) = Self.encode(object, base: base, sources: sources, fresh: fresh)
                encoding = .encoded(bytes: bytes, ranges: ranges)
                return (bytes, ranges)
            }
        }
    }

    /// The bytes and member ranges if encoded already (a source is never encoded for another's sake, so a chain of
    /// snapshots not encoded yet is not encoded recursively).
    private var encodedIfAvailable: (bytes: [UInt8], ranges: [String: Range<Int>]?)? {
        encoding.withLock { encoding in
            if case .encoded(let bytes, let ranges) = encoding { return (bytes, ranges) }
            return nil
        }
    }

    /// Writes `object`, copying a member's text from the snapshot it came from where that one has it encoded.
    private static func encode(
        _ object: [String: JSONValue],
        base: ContextSnapshot?,
        sources: [String: ContextSnapshot],
        fresh: Set<String>
    ) -> ([UInt8], [String: Range<Int>]) {
        var origins: [ObjectIdentifier: (bytes: [UInt8], ranges: [String: Range<Int>]?)] = [:]
        func text(of key: String) -> (bytes: [UInt8], range: Range<Int>)? {
            guard !fresh.contains(key), let source = sources[key] ?? base else { return nil }
            let id = ObjectIdentifier(source)
            if origins[id] == nil { origins[id] = source.encodedIfAvailable ?? ([], nil) }
            guard let origin = origins[id], let range = origin.ranges?[key] else { return nil }
            return (origin.bytes, range)
        }
        let sizes = base?.encodedIfAvailable?.bytes.count ?? 0
        var writer = JSONObjectWriter(capacity: max(256, sizes + sizes / 8))
        for key in object.keys.sorted() {
            if let (bytes, range) = text(of: key) {
                bytes.withUnsafeBufferPointer { writer.append(key, text: UnsafeBufferPointer(rebasing: $0[range])) }
            } else {
                writer.append(key, value: object[key]!)
            }
        }
        return writer.finish()
    }

    private static func members(
        of bytes: [UInt8],
        reference: JSONObjectMembers.Reference?
    ) throws(ContextError) -> JSONObjectMembers {
        let parsed: Result<JSONObjectMembers?, JSONParseError> = bytes.withUnsafeBufferPointer { buffer in
            Result { () throws(JSONParseError) in try JSONObjectMembers.parse(buffer, reference: reference) }
        }
        switch parsed {
        case .success(let members?): return members
        case .success(nil):
            let kind = (try? JSONValue(parsing: bytes))?.kindName ?? "something else"
            throw ContextError(message: "expected a JSON object, got \(kind)")
        case .failure(let error): throw ContextError(message: "\(error)")
        }
    }

    static func equal(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        return a.withUnsafeBytes { a in
            b.withUnsafeBytes { b in
                a.baseAddress == b.baseAddress || a.isEmpty || memcmp(a.baseAddress!, b.baseAddress!, a.count) == 0
            }
        }
    }
}

extension ContextSnapshot: Equatable {
    /// Snapshots are equal when they encode the same object (the same snapshot, or the same bytes).
    public static func == (lhs: ContextSnapshot, rhs: ContextSnapshot) -> Bool {
        lhs === rhs || equal(lhs.bytes, rhs.bytes)
    }
}

/// Bytes that are not a JSON object where a context was expected.
public struct ContextError: Error, Sendable, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}
