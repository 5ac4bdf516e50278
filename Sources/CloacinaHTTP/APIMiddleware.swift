internal import Hummingbird
internal import Logging

/// Wraps every route (and the answer for unknown routes): turns a thrown error into its JSON answer, so no error
/// leaves the API as an empty or HTML body, and logs each request at debug with its method, path and status; an
/// error whose text was withheld from the client is logged at error with it.
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
        let response: Response
        do {
            response = try await next(request, context)
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
            response = answer.response
        }
        context.logger.debug(
            "request",
            metadata: [
                "method": "\(request.method.rawValue)",
                "path": "\(request.uri.path)",
                "status": "\(response.status.code)",
            ]
        )
        return response
    }
}
