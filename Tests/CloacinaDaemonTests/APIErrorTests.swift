import Cloacina
import Hummingbird
import HummingbirdTesting
import Testing

@testable import CloacinaHTTP

/// What an error answer may tell a client: the engine's messages for clients pass, a store's text never does.
@Suite("HTTP API error answers")
struct APIErrorTests {
    static let request = Request(
        head: HTTPRequest(method: .get, scheme: "http", authority: "localhost", path: "/tenants/initech/executions"),
        body: RequestBody(buffer: ByteBuffer())
    )

    @Test("a store error answers a generic 500; its SQL goes to the log only")
    func storeErrorsStayInTheLog() {
        let sql = #"relation "initech.executions" does not exist"#
        for error: any Error in [CloacinaError(.storage, sql), CloacinaError(.configuration, sql), Unexpected()] {
            let answer = APIError(error, request: Self.request)
            #expect(answer.status == .internalServerError)
            #expect(!answer.message.contains("relation") && !answer.message.contains("SELECT"), "\(answer.message)")
            #expect(answer.logDetail?.isEmpty == false)
        }
        #expect(APIError(CloacinaError(.storage, sql), request: Self.request).logDetail == sql)
    }

    @Test("unavailable and shutting down answer 503 with Retry-After; client errors keep their message")
    func unavailable() {
        for code in [CloacinaError.Code.unavailable, .shuttingDown] {
            let answer = APIError(CloacinaError(code, "try later"), request: Self.request)
            #expect(answer.status == .serviceUnavailable)
            #expect(answer.response.headers[.retryAfter] == "\(APIError.retryAfterSeconds)")
            #expect(answer.message == "try later")
        }
        let notFound = APIError(CloacinaError(.notFound, #"unknown tenant "initech""#), request: Self.request)
        #expect(notFound.status == .notFound && notFound.message == #"unknown tenant "initech""#)
        #expect(notFound.response.headers[.retryAfter] == nil)
    }

    @Test("a cancelled wait answers 503; Hummingbird renders a thrown APIError as its JSON answer")
    func cancelledAndRendered() async throws {
        let cancelled = APIError(CloacinaError(.cancelled, "the wait was cancelled"), request: Self.request)
        #expect(cancelled.status == .serviceUnavailable && cancelled.logDetail == nil)

        let router = Router()
        router.get("/refused") { _, _ -> Response in throw APIError(.serviceUnavailable, "not now") }
        try await Application(router: router).test(.router) { client in
            try await client.execute(uri: "/refused", method: .get) { response in
                #expect(response.status == .serviceUnavailable)
                #expect(response.headers[.retryAfter] == "\(APIError.retryAfterSeconds)")
                #expect(response.headers[.contentType] == "application/json")
                #expect(String(buffer: response.body) == #"{"error":"not now"}"# + "\n")
            }
        }
    }

    struct Unexpected: Error, CustomStringConvertible {
        var description: String { "SELECT secret FROM somewhere" }
    }
}
