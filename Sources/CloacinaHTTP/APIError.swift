internal import Cloacina
internal import Hummingbird

/// An error answer of the API: a status and a message, sent as `{"error": "<message>"}`.
///
/// An `HTTPResponseError`, so Hummingbird renders it wherever it is thrown. ``APIMiddleware`` turns whatever else a
/// handler throws into one: the engine's `CloacinaError` by its code, Hummingbird's errors by their status. Only
/// messages the API and the engine write for clients pass through (bad input, unknown names, a refusal); a store
/// failure or anything unexpected answers a generic message, and its own text (which may quote SQL or a file path)
/// goes to the host's log only, as ``logDetail``. A 503 says when to try again.
struct APIError: HTTPResponseError, Sendable {
    var status: HTTPResponse.Status
    var message: String
    /// The message that was withheld from the client, for the log.
    var logDetail: String?
    /// Seconds for `Retry-After`.
    var retryAfter: Int?
    /// The methods for `Allow` (on a 405).
    var allow: [HTTPRequest.Method] = []

    /// How long a client told 503 should wait before trying again.
    static let retryAfterSeconds = 1

    init(_ status: HTTPResponse.Status, _ message: String) {
        self.status = status
        self.message = message
        if status == .serviceUnavailable { retryAfter = Self.retryAfterSeconds }
    }

    /// The answer for `error`, thrown while answering `request`.
    init(_ error: any Error, request: Request) {
        switch error {
        case let error as APIError:
            self = error
        case let error as CloacinaError:
            if let status = Self.status(of: error.code) {
                self.init(status, error.message)
            } else {
                self.init(.internalServerError, "internal error (\(error.code)); the host's log has the details")
                logDetail = error.message
            }
        case let error as HTTPError:
            if error.status == .notFound && error.body == nil {
                self.init(noRouteFor: request)
            } else {
                self.init(error.status, error.body ?? error.status.reasonPhrase)
            }
        case let error as any HTTPResponseError:
            self.init(error.status, error.status.reasonPhrase)
        default:
            self.init(.internalServerError, "internal error; the host's log has the details")
            logDetail = String(describing: error)
        }
    }

    /// The answer when no route has the request's method and path: 405 with the methods that path has, or 404
    /// when it has none.
    private init(noRouteFor request: Request) {
        let methods = APIRoutes.methods(matching: request.uri.path)
        guard !methods.isEmpty, !methods.contains(request.method) else {
            self.init(.notFound, "no route \(request.method.rawValue) \(request.uri.path)")
            return
        }
        let names = methods.map(\.rawValue).joined(separator: ", ")
        self.init(.methodNotAllowed, "\(request.uri.path) does not answer \(request.method.rawValue) (only \(names))")
        allow = methods
    }

    /// The status that answers an engine error with `code`, when its message is meant for clients; nil for errors
    /// whose message stays in the log (the store's, the configuration's).
    static func status(of code: CloacinaError.Code) -> HTTPResponse.Status? {
        switch code {
        case .invalidInput: return .badRequest
        case .unknownWorkflow, .notFound: return .notFound
        case .conflict: return .conflict
        // A cancelled wait: the client went away or the host is shutting down; the execution goes on.
        case .shuttingDown, .unavailable, .cancelled: return .serviceUnavailable
        default: return nil
        }
    }

    /// The JSON answer, with `Retry-After` on a 503 and `Allow` on a 405.
    func response(from request: Request, context: some RequestContext) -> Response {
        response
    }

    /// The JSON answer.
    var response: Response {
        var headers: HTTPFields = [:]
        if let retryAfter { headers[.retryAfter] = "\(retryAfter)" }
        if !allow.isEmpty { headers[.allow] = allow.map(\.rawValue).joined(separator: ", ") }
        return .json(["error": .string(message)], status: status, headers: headers)
    }
}
