import Hummingbird
import Synchronization
import Testing

@testable import CloacinaHTTP

/// The body limit without a declared length (a chunked upload): the router test client always declares one, so
/// these call the body reader directly.
@Suite("HTTP API body limit")
struct HTTPBodyLimitTests {
    /// A body of `chunks` chunks of `size` bytes that counts how many chunks were read.
    struct CountingBody: AsyncSequence, Sendable {
        typealias Element = ByteBuffer

        final class Counter: Sendable {
            let pulled = Mutex(0)
        }

        struct AsyncIterator: AsyncIteratorProtocol {
            let body: CountingBody
            var sent = 0

            mutating func next() async -> ByteBuffer? {
                guard sent < body.chunks else { return nil }
                sent += 1
                body.counter.pulled.withLock { $0 += 1 }
                return ByteBuffer(repeating: UInt8(ascii: "x"), count: body.size)
            }
        }

        let chunks: Int
        let size: Int
        let counter = Counter()

        func makeAsyncIterator() -> AsyncIterator { AsyncIterator(body: self) }
    }

    static func request(_ body: CountingBody, declaredLength: Int? = nil) -> Request {
        var fields = HTTPFields()
        if let declaredLength { fields[.contentLength] = "\(declaredLength)" }
        let head = HTTPRequest(method: .post, scheme: "http", authority: "localhost", path: "/", headerFields: fields)
        return Request(head: head, body: RequestBody(asyncSequence: body))
    }

    @Test("an undeclared body past the limit is refused after reading just past the limit, not whole")
    func streamedBodyStopsAtTheLimit() async throws {
        let body = CountingBody(chunks: 1_000, size: 1_024)
        let error = await #expect(throws: APIError.self) {
            _ = try await APIRoutes.body(of: Self.request(body), limit: 4_096)
        }
        #expect(error?.status == .contentTooLarge)
        #expect(error?.message.contains("4096") == true)
        #expect(body.counter.pulled.withLock { $0 } <= 5)
    }

    @Test("a declared length past the limit is refused before reading anything")
    func declaredLengthIsCheckedFirst() async throws {
        let body = CountingBody(chunks: 8, size: 1_024)
        let error = await #expect(throws: APIError.self) {
            _ = try await APIRoutes.body(of: Self.request(body, declaredLength: 8_192), limit: 4_096)
        }
        #expect(error?.status == .contentTooLarge)
        #expect(body.counter.pulled.withLock { $0 } == 0)
    }

    @Test("an undeclared body within the limit is read whole")
    func streamedBodyWithinTheLimit() async throws {
        let body = CountingBody(chunks: 4, size: 1_024)
        let bytes = try await APIRoutes.body(of: Self.request(body), limit: 4_096)
        #expect(bytes.count == 4_096)
    }
}
