internal import Logging
public import ServiceLifecycle
internal import UnixSignals

/// Runs a ``Daemon`` in a `ServiceGroup`: starts it, serves until graceful shutdown (SIGTERM, SIGINT), then
/// drains it.
///
/// Put it after the HTTP service in the group: services stop in reverse order, so the API keeps answering (503 for
/// new executions) while the daemon drains.
public struct DaemonService: Service {
    public let daemon: Daemon

    public init(daemon: Daemon) {
        self.daemon = daemon
    }

    public func run() async throws {
        try await daemon.start()
        // Returns when graceful shutdown begins; throws if the task is cancelled instead.
        try? await gracefulShutdown()
        await daemon.drain()
    }
}

/// Reloads the daemon on every SIGHUP, until graceful shutdown. Requests made while a reload runs collapse into
/// one more reload after it.
public struct ReloadSignalService: Service {
    public let daemon: Daemon

    public init(daemon: Daemon) {
        self.daemon = daemon
    }

    public func run() async throws {
        for await _ in await UnixSignalsSequence(trapping: .sighup).cancelOnGracefulShutdown() {
            daemon.logger.info("SIGHUP: reloading")
            daemon.requestReload()
        }
    }
}
