internal import Cloacina
internal import Logging
public import ServiceLifecycle
internal import UnixSignals

/// Runs a ``Daemon`` in a `ServiceGroup`: starts it, serves until graceful shutdown (SIGTERM, SIGINT), then
/// drains it.
///
/// Put it after the HTTP service in the group: services stop in reverse order, so the API keeps answering (503 for
/// new executions) while the daemon drains. The tenants' runners run their timers and background jobs in this
/// service's task group (``TenantManager/run()``).
public struct DaemonService: Service {
    public let daemon: Daemon

    public init(daemon: Daemon) {
        self.daemon = daemon
    }

    public func run() async throws {
        // The runners' timers and background jobs run in this service's task group; the drain stops them last.
        try await withThrowingDiscardingTaskGroup { group in
            group.addTask { await daemon.tenants.run() }
            // Slow package loads finish here, after the start published what loaded.
            group.addTask { await daemon.runPendingLoads() }
            try await daemon.start()
            // Returns when graceful shutdown begins; throws if the task is cancelled instead.
            try? await gracefulShutdown()
            await daemon.drain()
        }
    }
}

/// Reloads the daemon on every SIGHUP, until graceful shutdown. Requests made while a reload runs collapse into
/// one more reload after it.
///
/// Each reload runs in a child task of this service's task group, so the `ServiceGroup` that runs the service
/// also ends them: graceful shutdown stops taking signals and waits for them, cancellation stops their waits.
public struct ReloadSignalService: Service {
    public let daemon: Daemon

    public init(daemon: Daemon) {
        self.daemon = daemon
    }

    public func run() async throws {
        let signals = await UnixSignalsSequence(trapping: .sighup)
        await daemon.reloads(on: signals.cancelOnGracefulShutdown()) { [daemon] in
            daemon.logger.info("SIGHUP: reloading")
        }
    }
}

extension Daemon {
    /// Reloads once for each element of `requests`, each in a child task of a task group that ends with the
    /// sequence (after the reloads it started); `announce` runs before each.
    func reloads<Requests: AsyncSequence>(
        on requests: Requests,
        announce: @escaping @Sendable () -> Void = {}
    ) async {
        await withDiscardingTaskGroup { group in
            do {
                for try await _ in requests {
                    announce()
                    group.addTask { _ = await self.reload() }
                }
            } catch {
                // The sequence ended by failing (cancelled): nothing more to reload.
            }
        }
    }
}
