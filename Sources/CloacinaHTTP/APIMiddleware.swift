internal import Hummingbird
internal import Logging

/// Wraps every route (and the answer for unknown routes): turns a thrown error into an ``APIError`` (which
/// Hummingbird renders as its JSON answer), so no error leaves the API as an empty or HTML body, and logs each
/// request at debug with its method, path and status; an error whose text was withheld from the client is logged at
/// error with it.
///
/// It never logs bodies or query strings.
struct APIMiddleware<Context: RequestContext>: RouterMiddleware {
    // `@concurrent`: the protocol is declared in a module without nonisolated(nonsending) by default.
    @concurrent
    func handle(
        _ request: Request,
        context: Context,
        next: @concurrent (Request, Context) async throws -> Response
    ) async throws -> Response {
        do {
            let response = try await next(request, context)
            log(request, status: response.status, context: context)
            return response
        } catch {
            let answer = APIError(error, request: request)
            if let detail = answer.logDetail {
                context.logger.error(
                    "request failed",
                    metadata: [
                        "method": "\(request.method.rawValue)", "path": "\(request.uri.path)",
                        "status": "\(answer.status.code)", "error": "\(detail)",
                    ]
                )
            }
            log(request, status: answer.status, context: context)
            throw answer
        }
    }

    private func log(_ request: Request, status: HTTPResponse.Status, context: Context) {
        context.logger.debug(
            "request",
            metadata: [
                "method": "\(request.method.rawValue)",
                "path": "\(request.uri.path)",
                "status": "\(status.code)",
            ]
        )
    }
}
