internal import CloacinaStorage
internal import Logging
internal import Synchronization

/// The log lines of one attempt, kept until the write that records the attempt's end takes them
/// (``take(executionID:taskID:attempt:)``): at most ``maximumLines`` (later ones are only counted), each cut to
/// ``maximumLineBytes`` with a marker, passwords redacted by ``ConnectionStringRedaction``. Lines may come from any
/// thread; those logged after the take are ignored. An attempt that logs nothing costs one allocation.
final class TaskLogRecorder: Sendable {
    let maximumLines: Int
    let maximumLineBytes: Int
    private let state = Mutex(State())

    private struct State {
        var entries: [TaskLogBatch.Entry] = []
        /// Lines accepted but not yet appended (being redacted on their threads).
        var reserved = 0
        var dropped = 0
        var taken = false
    }

    init(maximumLines: Int, maximumLineBytes: Int) {
        self.maximumLines = maximumLines
        self.maximumLineBytes = maximumLineBytes
    }

    /// Keeps a line, or counts it as dropped when the attempt already has ``maximumLines``.
    func record(_ level: Logger.Level, _ message: String) {
        let at = Timestamp.now()
        // The bound is checked first, so a line over it costs only the count.
        let accepted = state.withLock { state in
            guard !state.taken else { return false }
            guard state.entries.count + state.reserved < maximumLines else {
                state.dropped += 1
                return false
            }
            state.reserved += 1
            return true
        }
        guard accepted else { return }
        let entry = TaskLogBatch.Entry(
            level: TaskLogLine.Level(rawValue: level.rawValue) ?? .error,
            message: Self.kept(message, maximumBytes: maximumLineBytes),
            at: at
        )
        state.withLock { state in
            state.reserved -= 1
            if !state.taken { state.entries.append(entry) }
        }
    }

    /// The lines kept so far as the write of an attempt's end carries them, nil when the attempt logged nothing;
    /// later lines are ignored.
    func take(executionID: String, taskID: String, attempt: Int) -> StoreWrite? {
        let (entries, dropped) = state.withLock { state in
            state.taken = true
            return (state.entries, state.dropped + state.reserved)
        }
        guard !entries.isEmpty || dropped > 0 else { return nil }
        return .appendLogs(
            TaskLogBatch(executionID: executionID, taskID: taskID, attempt: attempt, entries: entries, dropped: dropped)
        )
    }

    /// `message` as it is stored: passwords redacted (before cutting, so a cut never leaves part of one), NUL
    /// characters replaced (PostgreSQL text cannot hold them), and cut at a code point boundary to `maximumBytes`
    /// with a marker naming the line's full size.
    static func kept(_ message: String, maximumBytes: Int) -> String {
        var text = ConnectionStringRedaction.redact(message)
        if text.utf8.contains(0) { text = text.replacing("\u{0}", with: "\u{FFFD}") }
        let size = text.utf8.count
        guard size > maximumBytes else { return text }
        let utf8 = text.utf8
        var end = utf8.index(utf8.startIndex, offsetBy: maximumBytes)
        // Back to the start of a character's encoding (a continuation byte is 0b10xxxxxx).
        while end > utf8.startIndex && utf8[end] & 0xC0 == 0x80 { end = utf8.index(before: end) }
        return String(decoding: utf8[..<end], as: UTF8.self)
            + "… [line cut: \(size) bytes, the limit is \(maximumBytes)]"
    }
}
