internal import Hummingbird
internal import Logging

/// Wraps every route (and the answer for unknown routes): turns a thrown error into its JSON answer, so no error
/// leaves the API as an empty or HTML body, and logs each request at debug with its method, path and status.
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
            response = APIError(error, request: request).response
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
