internal import Cloacina
internal import Hummingbird

/// An error answer of the API: a status and a message, sent as `{"error": "<message>"}`.
///
/// Built from whatever a handler throws: the engine's `CloacinaError` by its code, Hummingbird's errors by their
/// status, anything else as 500 with its description (engine messages never contain secrets).
struct APIError: Error, Sendable {
    var status: HTTPResponse.Status
    var message: String

    init(_ status: HTTPResponse.Status, _ message: String) {
        self.status = status
        self.message = message
    }

    /// The answer for `error`, thrown while answering `request`.
    init(_ error: any Error, request: Request) {
        switch error {
        case let error as APIError:
            self = error
        case let error as CloacinaError:
            self.init(Self.status(of: error.code), error.message)
        case let error as HTTPError:
            if error.status == .notFound && error.body == nil {
                self.init(.notFound, "no route \(request.method.rawValue) \(request.uri.path)")
            } else {
                self.init(error.status, error.body ?? error.status.reasonPhrase)
            }
        case let error as any HTTPResponseError:
            self.init(error.status, error.status.reasonPhrase)
        default:
            self.init(.internalServerError, String(describing: error))
        }
    }

    /// The status that answers an engine error with `code`.
    static func status(of code: CloacinaError.Code) -> HTTPResponse.Status {
        switch code {
        case .invalidInput: return .badRequest
        case .unknownWorkflow, .notFound: return .notFound
        case .conflict: return .conflict
        case .shuttingDown, .unavailable: return .serviceUnavailable
        default: return .internalServerError
        }
    }

    /// The JSON answer.
    var response: Response {
        .json(["error": .string(message)], status: status)
    }
}
