import Testing

@testable import Cloacina

/// The pool's queue on its own, without threads: whatever the sequence of jobs added, started, ended and removed,
/// the job that starts next is the first waiting one of a share that runs the fewest for its weight, and no share
/// goes past its limit.
@Suite("Fair queue")
struct FairQueueTests {
    /// A reproducible sequence of choices (SplitMix64).
    struct Choices {
        var state: UInt64
        mutating func next(_ bound: Int) -> Int {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return Int((z ^ (z >> 31)) % UInt64(bound))
        }
    }

    /// What the queue should hold, kept the plain way.
    struct Model {
        var waiting: [[Int]]
        var running: [Int]
        let weights: [Int]
        let limits: [Int]
        func level(_ share: Int) -> Int { running[share] / weights[share] }
        func mayStart(_ share: Int) -> Bool { !waiting[share].isEmpty && running[share] < limits[share] }
    }

    @Test("random sequences: fewest running for its weight first, FIFO within a share, limits hold", arguments: 1...20)
    func randomSequences(_ seed: Int) {
        var choices = Choices(state: UInt64(seed))
        let weights = [1, 1, 2, 3]
        let limits = [Int.max, 2, Int.max, 4]
        var queue = FairQueue<Int>()
        let shares =
            [FairQueue<Int>.defaultShare]
            + (1..<weights.count).map {
                queue.share(named: "s\($0)", weight: weights[$0], limit: limits[$0] == Int.max ? nil : limits[$0])
            }
        #expect(shares == [0, 1, 2, 3])
        var model = Model(
            waiting: Array(repeating: [], count: 4),
            running: [0, 0, 0, 0],
            weights: weights,
            limits: limits
        )
        var nextJob = 0
        for _ in 0..<2000 {
            switch choices.next(10) {
            case 0..<4:
                let share = choices.next(4)
                queue.append(nextJob, to: share)
                model.waiting[share].append(nextJob)
                nextJob += 1
            case 4..<7:
                let startable = (0..<4).filter(model.mayStart)
                guard let (job, share) = queue.next() else {
                    #expect(startable.isEmpty, "nothing started although \(startable) may start")
                    continue
                }
                let fewest = startable.map(model.level).min()
                #expect(model.level(share) == fewest, "share \(share) started, levels \(model.running)")
                #expect(model.waiting[share].first == job)
                model.waiting[share].removeFirst()
                model.running[share] += 1
                #expect(model.running[share] <= limits[share])
            case 7..<9:
                let busy = (0..<4).filter { model.running[$0] > 0 }
                guard !busy.isEmpty else { continue }
                let share = busy[choices.next(busy.count)]
                queue.ended(in: share)
                model.running[share] -= 1
            default:
                let remainder = choices.next(3)
                let removed = queue.removeAll { $0 % 3 == remainder }
                let expected = model.waiting.flatMap { $0.filter { $0 % 3 == remainder } }
                #expect(removed.sorted() == expected.sorted())
                model.waiting = model.waiting.map { $0.filter { $0 % 3 != remainder } }
            }
            #expect(queue.hasStartable == (0..<4).contains(where: model.mayStart))
        }
    }

    @Test("shares that tie take turns")
    func turns() {
        var queue = FairQueue<String>()
        let (a, b) = (queue.share(named: "a", weight: 1, limit: nil), queue.share(named: "b", weight: 1, limit: nil))
        for job in ["a1", "a2", "a3"] { queue.append(job, to: a) }
        for job in ["b1", "b2", "b3"] { queue.append(job, to: b) }
        var started: [String] = []
        while let (job, share) = queue.next() {
            started.append(job)
            queue.ended(in: share)
        }
        #expect(started == ["a1", "b1", "a2", "b2", "a3", "b3"])
    }
}
