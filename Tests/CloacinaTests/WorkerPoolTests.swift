import Synchronization
import Testing

@testable import Cloacina

/// The pool that runs blocking work: a caller that gives up before its job starts takes the job with it.
@Suite("Worker pool")
struct WorkerPoolTests {
    @Test("a call cancelled while it waits for a thread never runs and fails as cancelled; later calls still run")
    func cancelledBeforeStart() async throws {
        let pool = WorkerPool(name: "test", limit: 1)
        defer { pool.stop() }
        let (busy, release) = (Gate(), Gate())
        pool.submit(
            WorkerPool.Job(run: {
                busy.open()
                _ = release.wait(seconds: 60)
            })
        )
        #expect(await busy.waitAsync())
        let ran = Atomic<Bool>(false)
        let waiting = Task {
            try await pool.run(discardedError: CloacinaError(.shuttingDown, "stopped")) { () throws(CloacinaError) in
                ran.store(true, ordering: .relaxed)
            }
        }
        waiting.cancel()
        await #expect { try await waiting.value } throws: { ($0 as? CloacinaError)?.code == .cancelled }
        release.open()
        // A call queued after the cancelled one runs; had the cancelled one stayed queued, it would have run first.
        let later = try await pool.run(discardedError: CloacinaError(.shuttingDown, "stopped")) {
            () throws(CloacinaError) in ran.load(ordering: .relaxed)
        }
        #expect(later == false)
        let cancelledRan = ran.load(ordering: .relaxed)
        #expect(!cancelledRan)
    }

    @Test("a call that started runs to its end even when its caller is cancelled meanwhile")
    func cancelledAfterStart() async throws {
        let pool = WorkerPool(name: "test", limit: 1)
        defer { pool.stop() }
        let (started, release) = (Gate(), Gate())
        let call = Task {
            try await pool.run(discardedError: CloacinaError(.shuttingDown, "stopped")) { () throws(CloacinaError) in
                started.open()
                _ = release.wait(seconds: 60)
                return 42
            }
        }
        #expect(await started.waitAsync())
        call.cancel()
        release.open()
        #expect(try await call.value == 42)
    }
}
