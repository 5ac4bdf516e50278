public import Cloacina
internal import CloacinaSQLite
internal import Logging
internal import Synchronization

#if canImport(Glibc)
internal import Glibc
#endif

/// A tenant the daemon serves: its runner and, on SQLite, which file it opened (to notice a removed tenant).
struct ServedTenant: Sendable {
    var runner: DefaultRunner
    var file: FileIdentity?
}

/// A file as the file system knows it, whatever its path: a removed and re-created tenant file is another one.
struct FileIdentity: Sendable, Hashable {
    var device: UInt64
    var inode: UInt64

    init?(path: String) {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        device = UInt64(info.st_dev)
        inode = UInt64(info.st_ino)
    }
}

/// A tenant taken out of service because its store failed to open; the other tenants serve on.
struct UnavailableTenant: Sendable {
    /// What failed, in a form safe to show to clients (the store's own message is in the log only).
    var reason: String
    var since: ContinuousClock.Instant

    func error(_ tenant: String) -> CloacinaError {
        CloacinaError(.unavailable, "tenant \"\(tenant)\" is out of service: \(reason)")
    }
}

extension Daemon {
    /// The runner of a tenant this daemon serves, opened on first use. Throws `notFound` for a tenant it does not
    /// serve (or that was removed: its runner is closed), `unavailable` for one whose store fails to open, and
    /// `shuttingDown` while draining when `intake` is true (reads are still answered while draining).
    ///
    /// With `admit`, the caller is about to create one execution: it is counted against
    /// ``Configuration/maxPendingExecutions`` (refused as `unavailable` at the limit) in the same look at the state
    /// that finds the runner, and must call ``release()`` once the execution is recorded (or not).
    func runner(
        for tenant: TenantName,
        intake: Bool = true,
        admit: Bool = false
    ) async throws(CloacinaError) -> DefaultRunner {
        let name = tenant.rawValue
        let limit = configuration.maxPendingExecutions
        // One look at the state: the phase, the served runner, and (for a new execution) room for it.
        let found = try state.withLock { state throws(CloacinaError) -> (ServedTenant?, UnavailableTenant?) in
            switch state.phase {
            case .starting: throw CloacinaError(.shuttingDown, "the host is starting")
            case .draining where intake, .stopped: throw CloacinaError(.shuttingDown, "the host is shutting down")
            case .serving, .draining: break
            }
            guard let served = state.served[name] else { return (nil, state.unavailable[name]) }
            if admit { try state.admit(limit: limit) }
            return (served, nil)
        }
        if let served = found.0 {
            if isCurrent(name, served) { return served.runner }
            if admit { release() }
            await forget(name)
        }
        if let down = found.1, ContinuousClock.now - down.since < configuration.unavailableRetryInterval {
            throw down.error(name)
        }
        if case .only(let names) = configuration.tenants, !names.contains(name) { throw unknown(name) }
        // Served tenants were opened at start (`only`) or are found when first used (`all`); one that is gone was
        // removed, and is not created again. With tenants' own roles, a tenant without credentials is unknown.
        guard try await isServable(name) else {
            state.withLock { _ = $0.unavailable.removeValue(forKey: name) }
            throw unknown(name)
        }
        let runner = try await open(name)
        if admit { try state.withLock { state throws(CloacinaError) in try state.admit(limit: limit) } }
        return runner
    }

    /// Ends an admission of ``runner(for:intake:admit:)``.
    func release() {
        state.withLock { $0.admitting -= 1 }
    }

    /// Calls `body` with `tenant`'s runner (admitted for one new execution with `admit`); a store error from a
    /// tenant that no longer exists (its schema was dropped) closes its runner and answers `notFound`.
    func withRunner<T>(
        _ tenant: TenantName,
        intake: Bool = true,
        admit: Bool = false,
        _ body: (DefaultRunner) async throws(CloacinaError) -> T
    ) async throws(CloacinaError) -> T {
        let runner = try await runner(for: tenant, intake: intake, admit: admit)
        defer { if admit { release() } }
        do {
            return try await body(runner)
        } catch let error where error.code == .storage {
            if (try? await exists(tenant.rawValue)) == false {
                await forget(tenant.rawValue)
                throw unknown(tenant.rawValue)
            }
            throw error
        }
    }

    /// Opens the runners of `names` at start. A tenant out of service is alone in it (logged and reported; the others
    /// serve), but a host none of whose tenants opens has nothing to serve (a wrong URL, say): that throws, rather
    /// than run on serving nothing.
    func openAll(_ names: [String]) async throws(CloacinaError) {
        var down: [String] = []
        for tenant in names {
            do {
                try await open(tenant)
            } catch let error where error.code == .unavailable {
                down.append(tenant)
            }
        }
        if !names.isEmpty && down.count == names.count {
            throw CloacinaError(
                .configuration,
                "none of the tenants could be opened (\(down.joined(separator: ", "))); the log says why"
            )
        }
    }

    /// Opens `tenant`'s runner (creating its storage when missing, except for tenants with their own roles) and
    /// serves it; on failure takes it out of service, logs why, and throws `unavailable`.
    @discardableResult
    func open(_ tenant: String) async throws(CloacinaError) -> DefaultRunner {
        let runner: DefaultRunner
        do {
            runner = try await tenants.runner(for: tenant)
        } catch let error where error.code == .shuttingDown || error.code == .invalidInput {
            throw error
        } catch {
            let down = UnavailableTenant(
                reason: "its store could not be opened (\(error.code)); the host's log has the details",
                since: .now
            )
            state.withLock { $0.unavailable[tenant] = down }
            logger.error(
                "tenant out of service: its store could not be opened; the other tenants serve on",
                metadata: ["tenant": "\(tenant)", "error": "\(error.message)"]
            )
            metrics.tenantAvailable(tenant, false)
            throw down.error(tenant)
        }
        let file = sqlitePath(tenant).flatMap(FileIdentity.init(path:))
        let recovered = state.withLock { state in
            state.served[tenant] = ServedTenant(runner: runner, file: file)
            return state.unavailable.removeValue(forKey: tenant) != nil
        }
        if recovered { logger.notice("tenant back in service", metadata: ["tenant": "\(tenant)"]) }
        metrics.tenantAvailable(tenant, true)
        return runner
    }

    /// Tries every tenant that is out of service again (after a reload: its store may have been repaired).
    func retryUnavailable() async {
        let names = state.withLock { state in
            let due = ContinuousClock.now - configuration.unavailableRetryInterval
            for name in state.unavailable.keys { state.unavailable[name]?.since = due }
            return state.unavailable.keys.sorted()
        }
        for name in names { _ = try? await runner(for: TenantName(trusted: name), intake: false) }
    }

    /// Stops serving a tenant that was removed: closes its runner (its unfinished work has nowhere to go).
    func forget(_ tenant: String) async {
        let served = state.withLock { $0.served.removeValue(forKey: tenant) }
        guard served != nil else { return }
        logger.notice("tenant removed; its runner is closed", metadata: ["tenant": "\(tenant)"])
        await tenants.close(tenant, timeout: .zero)
    }

    /// Whether a served tenant's storage is still the one its runner opened: on SQLite, the same file at its path
    /// (a removed tenant's file may stay open, unlinked); on PostgreSQL a dropped schema shows as store errors.
    private func isCurrent(_ tenant: String, _ served: ServedTenant) -> Bool {
        guard let path = sqlitePath(tenant) else { return true }
        return FileIdentity(path: path) == served.file
    }

    private func sqlitePath(_ tenant: String) -> String? {
        guard case .sqliteFiles(let directory) = configuration.storage else { return nil }
        return SQLiteBackend.file(ofTenant: tenant, in: directory)
    }

    private func unknown(_ tenant: String) -> CloacinaError {
        CloacinaError(.notFound, "unknown tenant \"\(tenant)\"")
    }

    private func exists(_ tenant: String) async throws(CloacinaError) -> Bool {
        try await TenantManager.exists(tenant, in: configuration.storage)
    }

    /// Whether `tenant` may be opened: it exists, or (with tenants' own roles) it has credentials, whatever they
    /// say: opening it reads and checks them, and takes it out of service when they are refused.
    private func isServable(_ tenant: String) async throws(CloacinaError) -> Bool {
        guard let credentials else { return try await exists(tenant) }
        return try await BlockingCall.run { credentials.hasCredentials(for: tenant) }
    }

    /// Tenants out of service, by name.
    public var unavailableTenants: [String] { state.withLock { $0.unavailable.keys.sorted() } }

    /// Whether the daemon takes work: it is serving, and (when it serves a fixed list) at least one tenant is in
    /// service.
    public var isReady: Bool {
        state.withLock { state in
            guard state.phase == .serving else { return false }
            if case .only = configuration.tenants { return !state.served.isEmpty }
            return true
        }
    }

    /// The tenants this daemon knows, in name order: `{tenants: [{tenant, status: "serving", active_executions} |
    /// {tenant, status: "unavailable", error}]}`. With ``TenantSelection/all``, tenants appear once first used.
    public func tenantsJSON() -> JSONValue {
        let (served, unavailable) = state.withLock { ($0.served, $0.unavailable) }
        var entries: [(String, JSONValue)] = served.map { name, tenant in
            (
                name,
                [
                    "tenant": .string(name), "status": "serving",
                    "active_executions": .int(tenant.runner.activeExecutionCount),
                ]
            )
        }
        for (name, down) in unavailable where served[name] == nil {
            entries.append(
                (
                    name,
                    ["tenant": .string(name), "status": "unavailable", "error": .string(down.error(name).message)]
                )
            )
        }
        return ["tenants": .array(entries.sorted { $0.0 < $1.0 }.map(\.1))]
    }
}
