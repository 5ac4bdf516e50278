/// A binary min-heap ordered by a comparison: the smallest element comes out first.
///
/// Shared by the model (topological ordering) and the engine (timers) through the `CloacinaEngine` SPI; not API
/// for workflow authors.
@_spi(CloacinaEngine) public struct Heap<Element> {
    private var storage: [Element] = []
    private let precedes: (Element, Element) -> Bool

    /// An empty heap where `precedes(a, b)` means `a` comes out before `b`.
    public init(by precedes: @escaping (Element, Element) -> Bool) {
        self.precedes = precedes
    }

    public var isEmpty: Bool { storage.isEmpty }
    public var count: Int { storage.count }
    /// The element that comes out next.
    public var first: Element? { storage.first }

    public mutating func insert(_ element: Element) {
        storage.append(element)
        var child = storage.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard precedes(storage[child], storage[parent]) else { break }
            storage.swapAt(child, parent)
            child = parent
        }
    }

    public mutating func popMin() -> Element? {
        guard !storage.isEmpty else { return nil }
        storage.swapAt(0, storage.count - 1)
        let minimum = storage.removeLast()
        siftDown(from: 0)
        return minimum
    }

    public mutating func removeAll() {
        storage.removeAll()
    }

    /// Removes every element for which `shouldRemove` is true, and restores the heap order (in linear time).
    public mutating func removeAll(where shouldRemove: (Element) -> Bool) {
        storage.removeAll(where: shouldRemove)
        for start in stride(from: storage.count / 2 - 1, through: 0, by: -1) { siftDown(from: start) }
    }

    private mutating func siftDown(from start: Int) {
        var parent = start
        while true {
            let left = 2 * parent + 1
            let right = left + 1
            var smallest = parent
            if left < storage.count && precedes(storage[left], storage[smallest]) { smallest = left }
            if right < storage.count && precedes(storage[right], storage[smallest]) { smallest = right }
            guard smallest != parent else { return }
            storage.swapAt(parent, smallest)
            parent = smallest
        }
    }
}
