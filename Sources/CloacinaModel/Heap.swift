/// A binary min-heap ordered by a comparison: the smallest element comes out first.
///
/// Shared by the modules of this package (topological ordering, timers); not public API.
package struct Heap<Element> {
    private var storage: [Element] = []
    private let precedes: (Element, Element) -> Bool

    /// An empty heap where `precedes(a, b)` means `a` comes out before `b`.
    package init(by precedes: @escaping (Element, Element) -> Bool) {
        self.precedes = precedes
    }

    package var isEmpty: Bool { storage.isEmpty }
    package var count: Int { storage.count }
    /// The element that comes out next.
    package var first: Element? { storage.first }

    package mutating func insert(_ element: Element) {
        storage.append(element)
        var child = storage.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard precedes(storage[child], storage[parent]) else { break }
            storage.swapAt(child, parent)
            child = parent
        }
    }

    package mutating func popMin() -> Element? {
        guard !storage.isEmpty else { return nil }
        storage.swapAt(0, storage.count - 1)
        let minimum = storage.removeLast()
        var parent = 0
        while true {
            let left = 2 * parent + 1
            let right = left + 1
            var smallest = parent
            if left < storage.count && precedes(storage[left], storage[smallest]) { smallest = left }
            if right < storage.count && precedes(storage[right], storage[smallest]) { smallest = right }
            guard smallest != parent else { return minimum }
            storage.swapAt(parent, smallest)
            parent = smallest
        }
    }

    package mutating func removeAll() {
        storage.removeAll()
    }
}
