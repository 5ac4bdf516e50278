internal import Synchronization

/// The daemon's answer to "how many of these executions may a schedule start now?", handed to every tenant's runner
/// (``DefaultRunner/Configuration/scheduleAdmission``) before the daemon exists to answer it: until ``answer(with:)``
/// is called, everything is admitted.
final class HostAdmission: Sendable {
    private let check = Mutex<(@Sendable (Int) -> Int)?>(nil)

    func answer(with check: @escaping @Sendable (Int) -> Int) {
        self.check.withLock { $0 = check }
    }

    func admits(_ count: Int) -> Int {
        guard let check = check.withLock({ $0 }) else { return count }
        return check(count)
    }
}
