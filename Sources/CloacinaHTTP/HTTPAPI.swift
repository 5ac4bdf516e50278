public import CloacinaDaemon
public import Hummingbird
internal import HummingbirdCore
public import Logging

/// The daemon's HTTP API: JSON routes that start executions, read them back, list them, reload the drop directory,
/// and report health, readiness and metrics.
///
/// It keeps no state of its own: every route calls the ``Daemon``, so the API answers the same as the CLI and the
/// library. It does not choose the address (binding loopback by default is the CLI's decision), authenticate or
/// terminate TLS.
///
/// Routes (bodies and answers are JSON unless noted; errors are `{"error": "<message>"}`):
/// - `POST /tenants/{tenant}/workflows` `{"workflow_name", "context"}`: 202 `{execution_id, status}`;
///   with `?wait=true`, 200 and the full result (the keys of `cloacina run --output json`).
/// - `GET /tenants/{tenant}/executions/{id}`: the full result; with `?wait=true`, once the execution has ended.
/// - `POST /tenants/{tenant}/executions/{id}/cancel`: 202 and the execution with `cancel_pending`; 404; 409 when
///   it already ended. `GET /tenants/{tenant}/executions/{id}/events`: `{execution_id, events}`, oldest first.
/// - `GET /tenants/{tenant}/executions?status=&workflow=&limit=&cursor=|offset=&total=`: `{executions, total,
///   limit, offset, next_cursor}` (``ListingParameters``).
/// - `GET /tenants`: `{tenants: [{tenant, status: "serving"|"unavailable", ...}]}`.
/// - `GET /hosts`: `{hosts: [{id, address, version, capacity, owned, tenants, last_heartbeat, live, ...}]}`.
/// - `GET /workflows`, `POST /admin/reload`, `GET /health`, `GET /ready`, `GET /metrics` (Prometheus text).
/// - `GET /openapi.json`: the OpenAPI 3.1 document of every route, their parameters and answers (`openapi.json`).
///
/// A 503 (shutting down, too many unfinished executions, a tenant out of service) carries `Retry-After`; a method a
/// route's path does not answer is a 405 with `Allow`. Store failures answer a generic 500 and are logged.
public enum HTTPAPI {
    /// The largest request body accepted by default: 1 MiB.
    public static let defaultMaxBodyBytes = 1 << 20

    /// A Hummingbird application serving ``router(daemon:maxBodyBytes:)`` on `host:port`, with `limits` on slow
    /// clients and open connections. It is a `Service`: run it in the `ServiceGroup` that also runs the daemon.
    /// Requests are logged at debug through `logger`.
    public static func application(
        daemon: Daemon,
        host: String,
        port: Int,
        maxBodyBytes: Int = defaultMaxBodyBytes,
        limits: HTTPLimits = HTTPLimits(),
        logger: Logger
    ) -> some ApplicationProtocol {
        Application(
            router: router(daemon: daemon, maxBodyBytes: maxBodyBytes),
            server: HTTPServerBuilder { responder in GuardedHTTP1Channel(responder: responder, limits: limits) },
            configuration: ApplicationConfiguration(address: .hostname(host, port: port), serverName: "cloacina"),
            logger: logger
        )
    }

    /// The API's routes over `daemon`, refusing request bodies larger than `maxBodyBytes` (413).
    public static func router(
        daemon: Daemon,
        maxBodyBytes: Int = defaultMaxBodyBytes
    ) -> Router<BasicRequestContext> {
        let router = Router(context: BasicRequestContext.self)
        // First, so it also wraps the answer for unknown routes.
        router.add(middleware: APIMiddleware())
        router.addRoutes(APIRoutes(daemon: daemon, maxBodyBytes: max(0, maxBodyBytes)).collection())
        return router
    }
}
