/// The waiting jobs of a ``WorkerPool``, in shares, and whose job starts next: the share with a waiting job that
/// runs the fewest for its weight (its running count divided by its weight, in whole steps), shares that tie in
/// turn, first come first served within a share; a share at its limit waits.
///
/// Shares are listed by level in intrusive lists of indices, so adding, taking and ending a job cost the same
/// whatever the number of shares (the lowest listed level is found by a hint that only ever moves one level per
/// job). A plain value under the pool's lock: no locking, no reference counting, no thread of its own.
struct FairQueue<Element> {
    /// The jobs of one share, its settings, and its place in the lists.
    private struct Share {
        var jobs: [Element] = []
        var head = 0
        var running = 0
        var weight = 1
        var limit = Int.max
        /// The level the share is listed at (-1 when not listed), and its neighbours there (-1 for none).
        var level = -1
        var previous = -1
        var next = -1

        var hasWaiting: Bool { head < jobs.count }
        var mayStart: Bool { hasWaiting && running < limit }
        var waiting: ArraySlice<Element> { jobs[head...] }

        mutating func takeFirst() -> Element {
            let first = jobs[head]
            head += 1
            if head == jobs.count {
                jobs.removeAll(keepingCapacity: true)
                head = 0
            } else if head > 1024 && head * 2 > jobs.count {
                jobs.removeFirst(head)
                head = 0
            }
            return first
        }
    }

    /// The first and last share listed at one level (-1 for none).
    private struct Level {
        var first = -1
        var last = -1
    }

    /// The shares, by index; 0 is the default share.
    private var shares = [Share()]
    private var indexOfName: [String: Int] = [:]
    private var levels: [Level] = []
    /// No share is listed below this level.
    private var lowest = 0
    private var listed = 0

    /// The default share's index: jobs of nobody in particular.
    static var defaultShare: Int { 0 }

    /// Whether a waiting job may start (its share is not at its limit).
    var hasStartable: Bool { listed > 0 }

    /// The index of the share named `name`, made on first use (shares are never removed), with `weight` (at least
    /// 1) and `limit` on its running jobs (nil for none).
    mutating func share(named name: String, weight: Int, limit: Int?) -> Int {
        let index = indexOfName[name] ?? shares.count
        if index == shares.count {
            shares.append(Share())
            indexOfName[name] = index
        }
        shares[index].weight = max(1, weight)
        shares[index].limit = max(1, limit ?? Int.max)
        relist(index)
        return index
    }

    /// Queues `element` at the end of share `index`.
    mutating func append(_ element: Element, to index: Int) {
        shares[index].jobs.append(element)
        if shares[index].level < 0 { list(index) }
    }

    /// Takes the job that starts next and counts it as running in its share; nil when none may start.
    mutating func next() -> (element: Element, share: Int)? {
        guard listed > 0 else { return nil }
        while levels[lowest].first < 0 { lowest += 1 }
        let index = levels[lowest].first
        let element = shares[index].takeFirst()
        shares[index].running += 1
        // To the end of its (new) level: shares that tie take turns.
        relist(index)
        return (element, index)
    }

    /// A running job of share `index` stopped counting against its limit (it ended, or was abandoned).
    mutating func ended(in index: Int) {
        shares[index].running -= 1
        relist(index)
    }

    /// Removes the waiting jobs for which `matches` holds, in every share, and returns them.
    mutating func removeAll(where matches: (Element) -> Bool) -> [Element] {
        var removed: [Element] = []
        for index in shares.indices where shares[index].waiting.contains(where: matches) {
            removed += shares[index].waiting.filter(matches)
            shares[index].jobs = shares[index].waiting.filter { !matches($0) }
            shares[index].head = 0
            relist(index)
        }
        return removed
    }

    // MARK: Listing

    /// Lists share `index` (not listed) at the end of its level, if a job of it may start.
    private mutating func list(_ index: Int) {
        guard shares[index].mayStart else { return }
        let level = shares[index].running / shares[index].weight
        while levels.count <= level { levels.append(Level()) }
        let last = levels[level].last
        shares[index].level = level
        shares[index].previous = last
        shares[index].next = -1
        if last >= 0 { shares[last].next = index } else { levels[level].first = index }
        levels[level].last = index
        listed += 1
        lowest = min(lowest, level)
    }

    private mutating func unlist(_ index: Int) {
        let (level, previous, next) = (shares[index].level, shares[index].previous, shares[index].next)
        guard level >= 0 else { return }
        if previous >= 0 { shares[previous].next = next } else { levels[level].first = next }
        if next >= 0 { shares[next].previous = previous } else { levels[level].last = previous }
        shares[index].level = -1
        listed -= 1
    }

    /// Lists share `index` again after its jobs, counts or settings changed.
    private mutating func relist(_ index: Int) {
        unlist(index)
        list(index)
    }
}
