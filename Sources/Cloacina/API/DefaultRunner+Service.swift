public import ServiceLifecycle

extension DefaultRunner: Service {
    /// Serves until graceful shutdown, then shuts down (``shutdown(timeout:)`` with the configured timeout); a
    /// cancelled task shuts down at once. For a program that runs its runner in a `ServiceGroup`:
    ///
    /// ```swift
    /// let runner = try await DefaultRunner.builder().databaseURL("sqlite://state/app.db").build()
    /// let group = ServiceGroup(services: [runner], logger: logger)
    /// try await group.run()
    /// ```
    ///
    /// The runner's own resources (not shared ones, which their host runs) run their timers and background jobs in
    /// this task group from then on.
    public func run() async throws {
        await withDiscardingTaskGroup { group in
            if runtime.ownsResources {
                group.addTask { await self.runtime.resources.run() }
            }
            do {
                try await gracefulShutdown()
                await shutdown()
            } catch {
                await shutdown(timeout: .zero)
            }
        }
    }
}
