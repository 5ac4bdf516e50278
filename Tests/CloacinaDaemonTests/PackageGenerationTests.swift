import Cloacina
import CloacinaDaemon
import Testing

/// A package as far as generations care: no image, no dlopen.
struct FakePackage: GenerationPackage, Equatable {
    var packageName: String
    var packageVersion: String
    var contentSHA256: String
    var workflowNames: [String]

    init(_ name: String, _ version: String, sha: String, workflows: [String]) {
        self.packageName = name
        self.packageVersion = version
        self.contentSHA256 = sha
        self.workflowNames = workflows
    }
}

@Suite("Package generations (pure)")
struct PackageGenerationTests {
    typealias Generation = PackageGeneration<FakePackage>

    static let ordersV1 = FakePackage("orders", "1", sha: "a1", workflows: ["process_order"])
    static let ordersV2 = FakePackage("orders", "2", sha: "a2", workflows: ["process_order"])
    static let words = FakePackage("words", "1", sha: "b1", workflows: ["word_stats"])

    static func scan(_ entries: [String: String]) -> [String: Result<String, ReloadFailure>] {
        entries.mapValues { .success($0) }
    }

    /// Runs one reload: loads what the generation asks for from `available` (by SHA-256), failing the others.
    static func reload(
        _ generation: Generation,
        _ scan: [String: Result<String, ReloadFailure>],
        _ available: [FakePackage],
        reserved: [(name: String, workflows: [String])] = []
    ) -> (Generation, ReloadSummary, asked: [String]) {
        let asked = generation.filesToLoad(scan)
        var loads: [String: Result<FakePackage, ReloadFailure>] = [:]
        for path in asked {
            guard case .success(let sha) = scan[path] else { continue }
            loads[path] =
                available.first { $0.contentSHA256 == sha }.map { .success($0) }
                ?? .failure(ReloadFailure("broken ELF"))
        }
        let (next, summary) = generation.next(scan, loads: loads, reserved: reserved)
        return (next, summary, asked)
    }

    @Test("the first scan loads every file; an unchanged rescan loads nothing and keeps serving")
    func firstAndUnchanged() {
        let scan = Self.scan(["d/orders.so": "a1", "d/words.so": "b1"])
        let (first, summary, asked) = Self.reload(Generation(), scan, [Self.ordersV1, Self.words])
        #expect(asked == ["d/orders.so", "d/words.so"])
        #expect(first.number == 1)
        #expect(summary.loaded == ["d/orders.so", "d/words.so"])
        #expect(first.servingPackages == [Self.ordersV1, Self.words])

        let (second, again, askedAgain) = Self.reload(first, scan, [])
        #expect(askedAgain.isEmpty)
        #expect(second.number == 2)
        #expect(again.unchanged == ["d/orders.so", "d/words.so"])
        #expect(again.loaded.isEmpty && again.failed.isEmpty)
        #expect(second.servingPackages == [Self.ordersV1, Self.words])
    }

    @Test("a changed file serves its new version; a failing one keeps its previous version until it changes again")
    func changedAndFailing() {
        let (first, _, _) = Self.reload(Generation(), Self.scan(["d/orders.so": "a1"]), [Self.ordersV1])

        let (broken, brokenSummary, _) = Self.reload(first, Self.scan(["d/orders.so": "zz"]), [])
        #expect(brokenSummary.failed.map(\.path) == ["d/orders.so"])
        #expect(brokenSummary.failed.first?.error == "broken ELF")
        #expect(broken.servingPackages == [Self.ordersV1])
        #expect(broken.slots["d/orders.so"]?.failure?.error == "broken ELF")

        // The same broken content is not tried again, and the error stays visible.
        let (still, stillSummary, asked) = Self.reload(broken, Self.scan(["d/orders.so": "zz"]), [])
        #expect(asked.isEmpty)
        #expect(stillSummary.unchanged == ["d/orders.so"])
        #expect(still.slots["d/orders.so"]?.failure?.error == "broken ELF")
        #expect(still.servingPackages == [Self.ordersV1])

        let (fixed, fixedSummary, _) = Self.reload(still, Self.scan(["d/orders.so": "a2"]), [Self.ordersV2])
        #expect(fixedSummary.loaded == ["d/orders.so"])
        #expect(fixed.slots["d/orders.so"]?.failure == nil)
        #expect(fixed.servingPackages == [Self.ordersV2])

        // Going back to content seen before loads it again.
        let (back, _, backAsked) = Self.reload(fixed, Self.scan(["d/orders.so": "a1"]), [Self.ordersV1])
        #expect(backAsked == ["d/orders.so"])
        #expect(back.servingPackages == [Self.ordersV1])
    }

    @Test("a removed file serves nothing; an unreadable one keeps serving with its error")
    func removedAndUnreadable() {
        let (first, _, _) = Self.reload(
            Generation(),
            Self.scan(["d/orders.so": "a1", "d/words.so": "b1"]),
            [Self.ordersV1, Self.words]
        )
        let (removed, summary, _) = Self.reload(first, Self.scan(["d/words.so": "b1"]), [])
        #expect(summary.removed == ["d/orders.so"])
        #expect(removed.servingPackages == [Self.words])
        #expect(removed.slots["d/orders.so"] == nil)

        let unreadable: [String: Result<String, ReloadFailure>] = [
            "d/words.so": .failure(ReloadFailure("permission denied"))
        ]
        let (kept, keptSummary, asked) = Self.reload(removed, unreadable, [])
        #expect(asked.isEmpty)
        #expect(keptSummary.failed.first?.error == "cannot read: permission denied")
        #expect(kept.servingPackages == [Self.words])
    }

    @Test("names go to the first file by name, as `workflows list` decides: a reload decides as a restart would")
    func clashes() {
        let (first, _, _) = Self.reload(Generation(), Self.scan(["d/b-orders.so": "a1"]), [Self.ordersV1])
        let thief = FakePackage("thief", "1", sha: "t1", workflows: ["process_order"])
        let both = Self.scan(["d/b-orders.so": "a1", "d/a-thief.so": "t1"])
        let (next, summary, _) = Self.reload(first, both, [thief])
        #expect(next.servingPackages == [thief])
        #expect(summary.loaded == ["d/a-thief.so"])
        #expect(summary.failed.map(\.path) == ["d/b-orders.so"])
        #expect(summary.failed.first?.error.contains("process_order") == true)
        #expect(summary.failed.first?.error.contains("d/a-thief.so") == true)
        #expect(next.slots["d/b-orders.so"]?.error == summary.failed.first?.error)

        // A fresh start on the same files decides the same.
        let (restarted, restartSummary, _) = Self.reload(Generation(), both, [thief, Self.ordersV1])
        #expect(restarted.servingPackages == next.servingPackages)
        #expect(restartSummary.failed.map(\.path) == summary.failed.map(\.path))

        // The conflict is reported once, and ends when the first file goes: the other serves again, unloaded.
        let (again, againSummary, askedAgain) = Self.reload(next, both, [])
        #expect(askedAgain.isEmpty && againSummary.failed.isEmpty)
        #expect(againSummary.unchanged == ["d/a-thief.so", "d/b-orders.so"])
        #expect(again.servingPackages == [thief])
        let (alone, aloneSummary, askedAlone) = Self.reload(again, Self.scan(["d/b-orders.so": "a1"]), [])
        #expect(askedAlone.isEmpty)
        #expect(aloneSummary.removed == ["d/a-thief.so"])
        #expect(alone.servingPackages == [Self.ordersV1])
        #expect(alone.slots["d/b-orders.so"]?.error == nil)

        // A later file's new version that claims a taken name keeps its previous version serving.
        let (pair, _, _) = Self.reload(
            Generation(),
            Self.scan(["d/orders.so": "a1", "d/words.so": "b1"]),
            [Self.ordersV1, Self.words]
        )
        let greedy = FakePackage("words", "2", sha: "b2", workflows: ["word_stats", "process_order"])
        let (kept, keptSummary, _) = Self.reload(pair, Self.scan(["d/orders.so": "a1", "d/words.so": "b2"]), [greedy])
        #expect(kept.servingPackages == [Self.ordersV1, Self.words])
        #expect(keptSummary.failed.map(\.path) == ["d/words.so"])
        #expect(kept.slots["d/words.so"]?.conflict?.contains("process_order") == true)

        let impostor = FakePackage("orders", "9", sha: "i9", workflows: ["other"])
        let (afterImpostor, impostorSummary, _) = Self.reload(
            first,
            Self.scan(["d/b-orders.so": "a1", "d/c-orders.so": "i9"]),
            [impostor]
        )
        #expect(impostorSummary.failed.map(\.path) == ["d/c-orders.so"])
        #expect(afterImpostor.servingPackages == [Self.ordersV1])

        // Host packages reserve their names.
        let (_, reservedSummary, _) = Self.reload(
            Generation(),
            Self.scan(["d/orders.so": "a1"]),
            [Self.ordersV1],
            reserved: [(name: "host", workflows: ["process_order"])]
        )
        #expect(reservedSummary.failed.map(\.path) == ["d/orders.so"])
    }

    @Test("the same content in two files is served once")
    func duplicates() {
        let (generation, summary, _) = Self.reload(
            Generation(),
            Self.scan(["d/orders.so": "a1", "d/orders-copy.so": "a1"]),
            [Self.ordersV1]
        )
        #expect(generation.servingPackages == [Self.ordersV1])
        #expect(summary.duplicates == ["d/orders.so"])
        #expect(summary.failed.isEmpty)
    }

    @Test("a file still loading keeps serving its previous version, is reported pending, and is asked for again")
    func pending() {
        let (first, _, _) = Self.reload(Generation(), Self.scan(["d/orders.so": "a1"]), [Self.ordersV1])
        let scan = Self.scan(["d/orders.so": "a2", "d/words.so": "b1"])
        #expect(first.filesToLoad(scan) == ["d/orders.so", "d/words.so"])
        let (second, summary) = first.next(
            scan,
            loads: ["d/words.so": .success(Self.words)],
            pending: ["d/orders.so"]
        )
        #expect(summary.pending == ["d/orders.so"])
        #expect(summary.loaded == ["d/words.so"])
        #expect(summary.failed.isEmpty)
        #expect(second.servingPackages == [Self.ordersV1, Self.words])
        #expect(second.slots["d/orders.so"]?.pending == true)
        #expect(second.filesToLoad(scan) == ["d/orders.so"])

        let (third, done) = second.next(scan, loads: ["d/orders.so": .success(Self.ordersV2)])
        #expect(done.loaded == ["d/orders.so"])
        #expect(done.pending.isEmpty)
        #expect(third.servingPackages == [Self.ordersV2, Self.words])
        #expect(third.slots["d/orders.so"]?.pending == false)
    }
}

@Suite("Reload scheduling (pure)")
struct CoalescingSchedulerTests {
    @Test("one reload at a time; a burst during it becomes one more reload that answers the whole burst")
    func coalescing() {
        var scheduler = CoalescingScheduler()
        #expect(scheduler.requested(waiter: 1) == .start(waiters: [1]))
        #expect(scheduler.isRunning)
        for waiter in UInt64(2)...21 {
            #expect(scheduler.requested(waiter: waiter) == CoalescingScheduler.Action.none)
        }
        #expect(scheduler.requested() == CoalescingScheduler.Action.none)
        let (first, next) = scheduler.finished()
        #expect(first == [1])
        #expect(next == .start(waiters: Array(2...21)))
        let (second, after) = scheduler.finished()
        #expect(second == Array(2...21))
        #expect(after == CoalescingScheduler.Action.none)
        #expect(!scheduler.isRunning)
        #expect(scheduler.requested() == .start(waiters: []))
    }

    @Test("a signal (no waiter) during a reload still causes one more reload")
    func signalDuringReload() {
        var scheduler = CoalescingScheduler()
        _ = scheduler.requested(waiter: 7)
        _ = scheduler.requested()
        let (notify, next) = scheduler.finished()
        #expect(notify == [7])
        #expect(next == .start(waiters: []))
        #expect(scheduler.finished().next == CoalescingScheduler.Action.none)
    }
}
