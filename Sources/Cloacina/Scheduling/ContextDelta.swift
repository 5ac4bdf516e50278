/// What one task changed in its context: the top-level keys it set (or changed) and the keys it removed.
///
/// A task's result is its delta, not its whole context, so a sibling that only passes a value through never
/// overwrites what another branch wrote. The host computes it from the context a task returned, compared with the
/// input it was given (a package returns whole contexts; the ABI does not change). Stored as
/// `{"set": {...}, "removed": [...]}` (`removed` only when not empty).
public struct ContextDelta: Sendable, Hashable {
    /// Keys set to a new value (added, or changed from the input's); stored as `set`.
    public var updates: [String: JSONValue]
    /// Keys of the input the task's context no longer has, sorted.
    public var removed: [String]

    public init(updates: [String: JSONValue] = [:], removed: [String] = []) {
        self.updates = updates
        self.removed = removed.sorted()
    }

    /// The delta of a task that changed nothing.
    public static let unchanged = ContextDelta()

    public var isEmpty: Bool { updates.isEmpty && removed.isEmpty }

    /// What `output` changed relative to `input`.
    public init(from input: ContextSnapshot, to output: ContextSnapshot) {
        guard output !== input else {
            self = .unchanged
            return
        }
        var updates: [String: JSONValue] = [:]
        for (key, value) in output.object where input.object[key] != value { updates[key] = value }
        let removed = input.object.keys.filter { output.object[$0] == nil }
        self.init(updates: updates, removed: removed)
    }

    // MARK: Stored form

    /// The delta as stored with the task: `{"set": {...}, "removed": [...]}`.
    public var bytes: [UInt8] {
        var stored: [String: JSONValue] = ["set": .object(updates)]
        if !removed.isEmpty { stored["removed"] = .array(removed.map { .string($0) }) }
        return JSONValue.object(stored).serialized()
    }

    /// Reads a stored delta. A stored object of any other shape is read as the whole context an older version
    /// stored (every key set, none removed).
    public init(parsing bytes: [UInt8]) throws(ContextError) {
        try self.init(stored: try ContextSnapshot(parsing: bytes).object)
    }

    /// A stored delta, parsed already.
    init(stored: [String: JSONValue]) throws(ContextError) {
        if stored.keys.allSatisfy({ $0 == "set" || $0 == "removed" }), case .object(let updates)? = stored["set"] {
            var removed: [String] = []
            if let list = stored["removed"] {
                guard case .array(let items) = list else {
                    throw ContextError(message: "a stored delta's \"removed\" is not an array")
                }
                for item in items {
                    guard case .string(let key) = item else {
                        throw ContextError(message: "a stored delta's \"removed\" holds a \(item.kindName)")
                    }
                    removed.append(key)
                }
            }
            self.init(updates: updates, removed: removed)
        } else {
            self.init(updates: stored)
        }
    }
}

extension ContextDelta {
    /// How an execution's final context is stored: its delta against the execution's input (which is stored
    /// already), as a one-element JSON array `[{"set": {...}, "removed": [...]}]`, so an input passed through is
    /// not stored twice. An array cannot be a context, so the form is told apart from a whole final context, as an
    /// older version stored it.
    static func storedFinal(_ delta: ContextDelta) -> [UInt8] {
        [UInt8(ascii: "[")] + delta.bytes + [UInt8(ascii: "]")]
    }

    /// The final context from its stored form (``storedFinal(_:)``, or a whole context) and the execution's
    /// input; nil when either is unreadable.
    static func finalContext(stored: [UInt8], input: @autoclosure () -> [String: JSONValue]?) -> [String: JSONValue]? {
        switch try? JSONValue(parsing: stored) {
        case .object(let context)?: return context
        case .array(let items)? where items.count == 1:
            guard let input = input(), case .object(let stored) = items[0],
                let delta = try? ContextDelta(stored: stored)
            else { return nil }
            return ContextSnapshot(input).applying([delta]).object
        default: return nil
        }
    }
}

extension ContextSnapshot {
    /// This context with `deltas` applied in order: later deltas win per key; a removal removes the key.
    func applying(_ deltas: [ContextDelta]) -> ContextSnapshot {
        let changes = deltas.filter { !$0.isEmpty }
        guard !changes.isEmpty else { return self }
        var merged = object
        var fresh: Set<String> = []
        for delta in changes {
            for key in delta.removed { merged[key] = nil }
            for (key, value) in delta.updates {
                merged[key] = value
                fresh.insert(key)
            }
        }
        // Encoded (if ever) by copying the unchanged members' text from this snapshot.
        return ContextSnapshot(merged, base: self, fresh: fresh)
    }
}

/// A completed task's whole context, and which task last set or removed each key that is not as in the
/// execution's input: what its dependents merge.
struct TaskContext: Sendable {
    var snapshot: ContextSnapshot
    /// Key → the index of the task that last set or removed it; keys absent here are as in the execution's input.
    var writers: [String: Int]

    /// This context after task `task` made `delta`, whose result is `output`.
    func after(_ delta: ContextDelta, by task: Int, output: ContextSnapshot) -> TaskContext {
        var writers = writers
        for key in delta.updates.keys { writers[key] = task }
        for key in delta.removed { writers[key] = task }
        return TaskContext(snapshot: output, writers: writers)
    }
}
