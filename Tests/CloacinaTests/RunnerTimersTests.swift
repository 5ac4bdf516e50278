import Synchronization
import Testing

@testable import Cloacina

@Suite("Runner timers")
struct RunnerTimersTests {
    /// Timers on a manual clock, their loop running in a task the test cancels at its end.
    private static func running(
        _ body: (RunnerTimers, ManualClock) async throws -> Void
    ) async throws {
        let clock = ManualClock()
        let timers = RunnerTimers(clock: clock)
        let loop = Task { await timers.run() }
        defer { loop.cancel() }
        try await body(timers, clock)
        loop.cancel()
        await loop.value
    }

    @Test("a timer runs once the clock reaches its deadline, not before")
    func firesAtDeadline() async throws {
        try await Self.running { timers, clock in
            let fired = Gate()
            let ran = Atomic<Int>(0)
            timers.schedule(after: .seconds(10)) {
                ran.add(1, ordering: .relaxed)
                fired.open()
            }
            #expect(await clock.nextSleep().offset == .seconds(10))
            clock.advance(by: .seconds(9))
            // The loop's sleep to 10 s is still waiting: nothing could have run.
            #expect(clock.sleeping == 1)
            let early = ran.load(ordering: .relaxed)
            #expect(early == 0)
            clock.advance(by: .seconds(1))
            #expect(await fired.waitAsync())
            let runs = ran.load(ordering: .relaxed)
            #expect(runs == 1)
        }
    }

    @Test("an earlier deadline wakes the sleeping loop; a later one does not")
    func earlierDeadlineWakes() async throws {
        try await Self.running { timers, clock in
            let fired = Gate()
            timers.schedule(after: .seconds(100)) {}
            #expect(await clock.nextSleep().offset == .seconds(100))
            timers.schedule(after: .seconds(5)) { fired.open() }
            #expect(await clock.nextSleep().offset == .seconds(5))
            timers.schedule(after: .seconds(50)) {}
            clock.advance(by: .seconds(5))
            #expect(await fired.waitAsync())
            // After running the 5 s timer the loop sleeps to the next live deadline, the later one set meanwhile.
            #expect(await clock.nextSleep().offset == .seconds(50))
        }
    }

    @Test("a cancelled timer never runs; the ones around it do, in deadline order")
    func cancelledNeverRuns() async throws {
        try await Self.running { timers, clock in
            let order = Mutex<[String]>([])
            let done = Gate()
            timers.schedule(after: .seconds(3)) {
                order.withLock { $0.append("late") }
                done.open()
            }
            let cancelled = timers.schedule(after: .seconds(2)) { order.withLock { $0.append("cancelled") } }
            timers.schedule(after: .seconds(1)) { order.withLock { $0.append("early") } }
            timers.cancel(cancelled)
            _ = await clock.nextSleep()
            clock.advance(by: .seconds(3))
            #expect(await done.waitAsync())
            #expect(order.withLock { $0 } == ["early", "late"])
        }
    }

    @Test("timers set and cancelled at a high rate do not pile up until their deadlines; live ones still fire")
    func cancelledTimersLeave() async throws {
        try await Self.running { timers, clock in
            let fired = Gate()
            timers.schedule(after: .milliseconds(1)) { fired.open() }
            let keep = timers.schedule(after: .seconds(3600)) {}
            for _ in 0..<100_000 {
                timers.cancel(timers.schedule(after: .seconds(300)) {})
            }
            #expect(timers.heldEntries <= 2 * 1024 + 2)
            clock.advance(by: .milliseconds(1))
            #expect(await fired.waitAsync())
            timers.cancel(keep)
        }
    }

    @Test("cancelling the loop cancels its background jobs and waits for them; the timers outlive it")
    func cancellationReachesJobs() async throws {
        let clock = ManualClock()
        let timers = RunnerTimers(clock: clock)
        let started = Gate()
        let sawCancellation = Atomic<Bool>(false)
        let loop = Task { await timers.run() }
        timers.spawn {
            started.open()
            // Waits on the clock until cancelled: nothing advances it.
            do {
                try await clock.sleep(until: clock.now.advanced(by: .seconds(3600)), tolerance: nil)
            } catch {
                sawCancellation.store(true, ordering: .relaxed)
            }
        }
        #expect(await started.waitAsync())
        loop.cancel()
        await loop.value
        let cancelled = sawCancellation.load(ordering: .relaxed)
        #expect(cancelled)

        // A timer set after the caller's loop ended still fires: it starts a loop of the timers' own, and a
        // later run() takes that over.
        let fired = Gate()
        timers.schedule(after: .seconds(1)) { fired.open() }
        let next = Task { await timers.run() }
        _ = await clock.nextSleep()
        clock.advance(by: .seconds(1))
        #expect(await fired.waitAsync())
        timers.stop()
        await next.value
    }

    @Test("a timer set while nobody runs the loop fires on a loop of the timers' own, which run() takes over")
    func ownLoopAndTakeover() async throws {
        let clock = ManualClock()
        let timers = RunnerTimers(clock: clock)
        let first = Gate()
        timers.schedule(after: .seconds(1)) { first.open() }
        #expect(await clock.nextSleep().offset == .seconds(1))
        clock.advance(by: .seconds(1))
        #expect(await first.waitAsync())

        // A caller's loop takes over: the own loop's sleep is cancelled and the caller's runs the next timer.
        timers.schedule(after: .seconds(5)) {}
        _ = await clock.nextSleep()
        let caller = Task { await timers.run() }
        #expect(await clock.nextSleep().offset == .seconds(6))
        #expect(clock.sleeping == 1)
        let second = Gate()
        timers.schedule(after: .seconds(1)) { second.open() }
        clock.advance(by: .seconds(1))
        #expect(await second.waitAsync())
        timers.stop()
        await caller.value
    }

    @Test("stop ends the loop and drops what was scheduled; later timers never run")
    func stopDrops() async throws {
        let clock = ManualClock()
        let timers = RunnerTimers(clock: clock)
        let ran = Atomic<Int>(0)
        let loop = Task { await timers.run() }
        timers.schedule(after: .seconds(1)) { ran.add(1, ordering: .relaxed) }
        _ = await clock.nextSleep()
        timers.stop()
        await loop.value
        timers.schedule(after: .zero) { ran.add(1, ordering: .relaxed) }
        clock.advance(by: .seconds(2))
        #expect(timers.heldEntries == 0)
        let runs = ran.load(ordering: .relaxed)
        #expect(runs == 0)
    }
}
