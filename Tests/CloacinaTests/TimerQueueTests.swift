import Synchronization
import Testing

@testable import Cloacina

@Suite("Timer queue")
struct TimerQueueTests {
    @Test("timers set and cancelled at a high rate do not pile up until their deadlines; live ones still fire")
    func cancelledTimersLeave() async throws {
        let timers = TimerQueue(name: "test")
        defer { timers.stop() }
        let fired = Gate()
        timers.schedule(after: .milliseconds(1)) { fired.open() }
        let keep = timers.schedule(after: .seconds(3600)) {}
        for _ in 0..<100_000 {
            timers.cancel(timers.schedule(after: .seconds(300)) {})
        }
        #expect(timers.heldEntries <= 2 * 1024 + 2)
        #expect(await fired.waitAsync())
        timers.cancel(keep)
    }
}
