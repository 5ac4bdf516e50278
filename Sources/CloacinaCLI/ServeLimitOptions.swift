import ArgumentParser
import CloacinaDaemon
import CloacinaHTTP

/// The limits of `cloacina serve` that keep slow or too many clients from using up the host: HTTP timeouts, the
/// connection limit, and the backlog of unfinished executions.
struct ServeLimitOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Seconds a client may take to send a request's header.", valueName: "seconds"))
    var httpHeaderTimeout: Double = 10

    @Option(help: ArgumentHelp("Seconds a client may take to send a request's body.", valueName: "seconds"))
    var httpBodyTimeout: Double = 30

    @Option(help: ArgumentHelp("Seconds a connection may stay open between requests.", valueName: "seconds"))
    var httpIdleTimeout: Double = 60

    @Option(
        help: ArgumentHelp(
            "HTTP connections served at once; more are closed at once (default: half the open-file limit, at most 1024).",
            valueName: "n"
        )
    )
    var httpMaxConnections: Int?

    @Option(
        help: ArgumentHelp(
            "Unfinished executions this host holds, across tenants; more submissions get 503 with Retry-After.",
            valueName: "n"
        )
    )
    var maxPendingExecutions = 1000

    func validate() throws {
        for (name, value) in [
            ("--http-header-timeout", httpHeaderTimeout), ("--http-body-timeout", httpBodyTimeout),
            ("--http-idle-timeout", httpIdleTimeout),
        ] where !(value > 0 && value <= 86_400) {
            throw ValidationError("\(name) must be a number of seconds above 0 and at most 86400, not \(value)")
        }
        if let httpMaxConnections, httpMaxConnections < 1 {
            throw ValidationError("--http-max-connections must be at least 1, not \(httpMaxConnections)")
        }
        guard maxPendingExecutions >= 1 else {
            throw ValidationError("--max-pending-executions must be at least 1, not \(maxPendingExecutions)")
        }
    }

    var http: HTTPLimits {
        HTTPLimits(
            headerTimeout: .seconds(httpHeaderTimeout),
            bodyTimeout: .seconds(httpBodyTimeout),
            idleTimeout: .seconds(httpIdleTimeout),
            maxConnections: httpMaxConnections ?? HTTPLimits.defaultMaxConnections
        )
    }
}
