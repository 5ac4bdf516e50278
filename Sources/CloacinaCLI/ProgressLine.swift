import Cloacina
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A live one-line summary of a running execution on the terminal's standard error ("3 done, running: a, b").
///
/// Only used when standard error is a terminal; it stays silent for the first half second so quick runs print
/// nothing extra, and erases itself when the run ends. Events arrive on the runner's threads.
final class ProgressLine: Sendable {
    private struct State {
        var done = 0
        var running: [String] = []
        var shown = false
    }

    private let workflow: String
    private let started = ContinuousClock.now
    private let state = Mutex(State())

    private init(workflow: String) {
        self.workflow = workflow
    }

    /// A progress line when standard error is a terminal (and `TERM` is not "dumb"), else nil.
    static func ifTerminal(workflow: String) -> ProgressLine? {
        guard isatty(2) == 1, Environment.value("TERM") != "dumb" else { return nil }
        return ProgressLine(workflow: workflow)
    }

    func record(_ event: ExecutionEvent) {
        guard let task = event.taskID else { return }
        let line: String? = state.withLock { state in
            switch event.kind {
            case .taskStarted:
                if !state.running.contains(task) { state.running.append(task) }
            case .taskCompleted, .taskFailed, .taskSkipped, .taskCancelled:
                state.running.removeAll { $0 == task }
                state.done += 1
            case .taskRetryScheduled:
                state.running.removeAll { $0 == task }
            default:
                break
            }
            guard ContinuousClock.now - started > .milliseconds(500) else { return nil }
            state.shown = true
            let seconds = (ContinuousClock.now - started).inMilliseconds / 100
            var text = "\(workflow): \(state.done) task\(state.done == 1 ? "" : "s") finished"
            if !state.running.isEmpty { text += ", running: " + state.running.joined(separator: ", ") }
            text += " (\(seconds / 10).\(seconds % 10) s)"
            return text
        }
        if let line { write("\r\u{1B}[K" + String(line.prefix(200))) }
    }

    /// Erases the line if it was shown.
    func finish() {
        if state.withLock({ $0.shown }) { write("\r\u{1B}[K") }
    }

    private func write(_ text: String) {
        var bytes = Array(text.utf8)
        _ = bytes.withUnsafeMutableBytes { Glibc.write(2, $0.baseAddress, $0.count) }
    }
}
