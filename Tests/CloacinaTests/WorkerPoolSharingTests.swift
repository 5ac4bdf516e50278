import Foundation
import Synchronization
import Testing

@testable import Cloacina

/// Jobs that note when they start and then wait until the test releases them, by name; the order of their starts is
/// what the tests assert (never the time).
final class GatedJobs: Sendable {
    private let log = Mutex<[String]>([])
    private let starts = DispatchSemaphore(value: 0)
    private let gates = Mutex<[String: Gate]>([:])

    /// A job named `name` of `owner`; `discarded` opens when the pool discards it.
    func job(_ name: String, owner: UInt64, discarded: Gate? = nil) -> WorkerPool.Job {
        WorkerPool.Job(run: { [self] in enter(name) }, discarded: { discarded?.open() }, owner: owner)
    }

    /// Notes that `name` started and, when `holding`, waits until the test releases it (from a task body, say).
    func enter(_ name: String, holding: Bool = true) {
        log.withLock { $0.append(name) }
        starts.signal()
        if holding { _ = gate(name).wait(seconds: 120) }
    }

    func release(_ names: String...) {
        for name in names { gate(name).open() }
    }

    /// Waits for the next `count` starts (a deadline only matters when the pool is broken); the names of all
    /// starts so far, in order.
    func waitForStarts(_ count: Int = 1) async -> [String] {
        for _ in 0..<count {
            let started = await withCheckedContinuation { continuation in
                DispatchQueue.global().async {
                    continuation.resume(returning: self.starts.wait(timeout: .now() + 120) == .success)
                }
            }
            if !started { break }
        }
        return started
    }

    /// The names of the jobs started so far, in order.
    var started: [String] { log.withLock { $0 } }

    private func gate(_ name: String) -> Gate {
        gates.withLock { gates in
            if let gate = gates[name] { return gate }
            let gate = Gate()
            gates[name] = gate
            return gate
        }
    }
}

/// How the threads of one pool are shared between owners' shares (a host's tenants): fairly, by weight, within
/// limits; and still FIFO within a share.
@Suite("Worker pool sharing")
struct WorkerPoolSharingTests {
    static let (acme, globex, acmeReopened): (UInt64, UInt64, UInt64) = (1, 2, 3)

    /// A pool of `limit` threads where acme's and globex's jobs go to shares of their names.
    static func pool(
        limit: Int,
        acme: (weight: Int, limit: Int?) = (1, nil),
        globex: (weight: Int, limit: Int?) = (1, nil)
    ) -> WorkerPool {
        let pool = WorkerPool(name: "test", limit: limit)
        pool.assign(owner: Self.acme, toShare: "acme", weight: acme.weight, limit: acme.limit)
        pool.assign(owner: Self.globex, toShare: "globex", weight: globex.weight, limit: globex.limit)
        return pool
    }

    @Test("an owner that fills every thread with long jobs gets the next free one only after another owner's job")
    func roundRobin() async throws {
        let pool = Self.pool(limit: 2)
        let jobs = GatedJobs()
        let acme = (1...6).map { "a\($0)" }
        for name in acme { pool.submit(jobs.job(name, owner: Self.acme)) }
        // Jobs that start at once on several threads log their starts in any order.
        #expect(Set(await jobs.waitForStarts(2)) == ["a1", "a2"])
        pool.submit(jobs.job("g1", owner: Self.globex))
        jobs.release("a1")
        // FIFO would start a3 here: globex's one job waits for no more than the jobs already running.
        #expect(await jobs.waitForStarts().last == "g1")
        jobs.release("a2")
        #expect(await jobs.waitForStarts().last == "a3")
        // Within an owner, jobs start in submission order.
        jobs.release("g1", "a3")
        let afterRelease = await jobs.waitForStarts(2)
        #expect(afterRelease.count == 6 && Set(afterRelease.suffix(2)) == ["a4", "a5"])
        jobs.release("a4", "a5", "a6")
        #expect(await jobs.waitForStarts().last == "a6")
        pool.stop()
    }

    @Test("a share of weight 2 keeps two threads for each one of a share of weight 1")
    func weighted() async throws {
        let pool = Self.pool(limit: 3, acme: (2, nil))
        let jobs = GatedJobs()
        for index in 1...6 { pool.submit(jobs.job("a\(index)", owner: Self.acme)) }
        #expect(Set(await jobs.waitForStarts(3)) == ["a1", "a2", "a3"])
        for index in 1...3 { pool.submit(jobs.job("g\(index)", owner: Self.globex)) }
        jobs.release("a1")
        #expect(await jobs.waitForStarts().last == "g1")
        // Now acme runs a2, a3 and globex g1. With equal weights globex's g2 would be next (both would run one).
        jobs.release("a2")
        #expect(await jobs.waitForStarts().last == "a4")
        jobs.release("a3")
        #expect(await jobs.waitForStarts().last == "a5")
        jobs.release("g1")
        #expect(await jobs.waitForStarts().last == "g2")
        jobs.release("a4", "a5", "a6", "g2", "g3")
        #expect(await jobs.waitForStarts(2).count == 9)
        pool.stop()
    }

    @Test("a share at its limit waits while threads are free, without holding up other shares; abandoning frees it")
    func limit() async throws {
        let pool = Self.pool(limit: 2, acme: (1, 1))
        let jobs = GatedJobs()
        let first = try #require(pool.submit(jobs.job("a1", owner: Self.acme)))
        pool.submit(jobs.job("a2", owner: Self.acme))
        pool.submit(jobs.job("a3", owner: Self.acme))
        #expect(await jobs.waitForStarts() == ["a1"])
        // A thread is free, but acme is at its limit: globex's job, submitted later, takes it.
        pool.submit(jobs.job("g1", owner: Self.globex))
        #expect(await jobs.waitForStarts() == ["a1", "g1"])
        // An abandoned (hung) job stops counting against its share's limit too.
        pool.abandon(first)
        #expect(await jobs.waitForStarts() == ["a1", "g1", "a2"])
        jobs.release("g1")
        jobs.release("a2")
        #expect(await jobs.waitForStarts() == ["a1", "g1", "a2", "a3"])
        jobs.release("a1", "a3")
        pool.stop()
    }

    @Test("owners put in one share (a tenant's runner reopened) count together; discarding stays per owner")
    func ownersOfOneShare() async throws {
        let pool = Self.pool(limit: 2, acme: (1, 1))
        pool.assign(owner: Self.acmeReopened, toShare: "acme", weight: 1, limit: 1)
        let jobs = GatedJobs()
        pool.submit(jobs.job("a1", owner: Self.acme))
        #expect(await jobs.waitForStarts() == ["a1"])
        let discarded = Gate()
        pool.submit(jobs.job("a2", owner: Self.acme, discarded: discarded))
        pool.submit(jobs.job("r1", owner: Self.acmeReopened))
        pool.submit(jobs.job("g1", owner: Self.globex))
        // r1 waits at acme's limit, which a1 of the earlier owner holds.
        #expect(await jobs.waitForStarts() == ["a1", "g1"])
        pool.discard(owner: Self.acme)
        #expect(await discarded.waitAsync())
        jobs.release("a1")
        #expect(await jobs.waitForStarts() == ["a1", "g1", "r1"])
        // A forgotten owner's jobs go to the default share, outside acme's limit.
        pool.forget(owner: Self.acme)
        pool.submit(jobs.job("d1", owner: Self.acme))
        jobs.release("g1")
        #expect(await jobs.waitForStarts() == ["a1", "g1", "r1", "d1"])
        jobs.release("r1", "d1")
        pool.stop()
    }

    @Test("stopping discards the waiting jobs of every share, telling each")
    func stopDiscardsEveryShare() async throws {
        let pool = Self.pool(limit: 1)
        let jobs = GatedJobs()
        pool.submit(jobs.job("a1", owner: Self.acme))
        #expect(await jobs.waitForStarts() == ["a1"])
        let (acme, other) = (Gate(), Gate())
        pool.submit(jobs.job("a2", owner: Self.acme, discarded: acme))
        pool.submit(jobs.job("o1", owner: 0, discarded: other))
        pool.stop()
        #expect(await acme.waitAsync())
        #expect(await other.waitAsync())
        jobs.release("a1")
        let refused = Gate()
        #expect(pool.submit(jobs.job("late", owner: Self.acme, discarded: refused)) == nil)
        #expect(await refused.waitAsync())
        #expect(jobs.started == ["a1"])
    }
}
