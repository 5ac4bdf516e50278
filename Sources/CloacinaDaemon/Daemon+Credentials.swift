internal import Cloacina
internal import Logging
internal import Synchronization

/// Serving tenants that each have their own database role (``TenantManager/Storage/postgresTenantRoles(credentials:)``):
/// the tenants served are those with credentials (and, with ``Daemon/TenantSelection/only(_:)``, named there), each
/// opened with its own connection string.
///
/// The credentials are read at start and again on every reload (the files' contents are never kept apart from the
/// open runners' configurations, and never logged). On reload:
///
/// - a tenant whose credentials appeared is opened (a tenant asked for before that is opened on first use too);
/// - a tenant whose credentials went stops serving: new requests get 404 at once, and its runner is closed as a
///   draining host closes it (running attempts get up to the drain timeout; what does not finish stays in its
///   schema, for a host that has its credentials);
/// - a tenant whose connection string changed is closed the same way and opened again with the new one, which then
///   resumes what the old runner did not finish. Requests in the meantime go to the new runner. Reopening rather than
///   letting the old runner go on is the safe choice: its pooled connections would reconnect with credentials that
///   were replaced, perhaps because they were revoked. A string that is now refused (a file whose mode changed, say)
///   closes the runner, and the tenant is out of service until a reload finds acceptable credentials.
///
/// The reload waits for those closes. A credentials directory that cannot be read on reload changes nothing (the
/// error is logged), like a drop directory that cannot be read.
extension Daemon {
    /// The credentials of the tenants, when each has its own role.
    var credentials: TenantCredentialSource? {
        guard case .postgresTenantRoles(let credentials) = configuration.storage else { return nil }
        return credentials
    }

    /// Opens every tenant with credentials (of the selection); throws when there are some and none opens, or when
    /// the selection names tenants and none of them has credentials.
    func openTenantsWithCredentials(_ credentials: TenantCredentialSource) async throws(CloacinaError) {
        guard let names = await tenantsWithCredentials(credentials) else {
            throw CloacinaError(.configuration, "cannot read the \(credentials); the log says why")
        }
        if case .only(let wanted) = configuration.tenants {
            for tenant in wanted where !names.contains(tenant) {
                logger.warning(
                    "tenant has no credentials; it is not served until a reload finds them",
                    metadata: ["tenant": "\(tenant)", "credentials": "\(credentials)"]
                )
            }
            if names.isEmpty {
                throw CloacinaError(
                    .configuration,
                    "none of the tenants \(wanted.joined(separator: ", ")) has credentials (\(credentials))"
                )
            }
        } else if names.isEmpty {
            logger.warning(
                "no tenant has credentials; none is served until a reload finds some",
                metadata: ["credentials": "\(credentials)"]
            )
        }
        try await openAll(names)
    }

    /// Brings the served tenants in line with their credentials, as the type's documentation says: on reload.
    func refreshCredentials() async {
        // The start's own reload runs before the tenants are opened: `start()` opens them.
        guard let credentials, phase == .serving, let names = await tenantsWithCredentials(credentials) else { return }
        let wanted = Set(names)
        let served = state.withLock { state in
            // Tenants out of service whose credentials went are no longer this host's tenants.
            for tenant in state.unavailable.keys where !wanted.contains(tenant) { state.unavailable[tenant] = nil }
            return state.served
        }
        let storage = configuration.storage
        let stores = configuration.runner.stores
        let kept = served.keys.filter(wanted.contains)
        // The URL each kept tenant's runner would open now (nil when its credentials are refused).
        let current =
            (try? await BlockingCall.run {
                Dictionary(
                    uniqueKeysWithValues: kept.map { ($0, try? storage.store(ofTenant: $0, stores: stores).url) }
                )
            }) ?? [:]
        var retiring: [(tenant: String, runner: DefaultRunner, why: String)] = []
        for (tenant, entry) in served {
            if !wanted.contains(tenant) {
                retiring.append((tenant, entry.runner, "tenant credentials removed; it is no longer served"))
            } else if let url = current[tenant], url != entry.runner.configuration.databaseURL {
                retiring.append((tenant, entry.runner, "tenant credentials changed; its runner is reopened"))
            }
        }
        await withTaskGroup(of: Void.self) { group in
            for (tenant, runner, why) in retiring {
                group.addTask { await self.retire(tenant, runner: runner, because: why) }
            }
        }
        let known = state.withLock { state in Set(state.served.keys).union(state.unavailable.keys) }
        for tenant in names where !known.contains(tenant) {
            _ = try? await open(tenant)
        }
    }

    /// Stops routing requests to `tenant`'s `runner` and closes it, waiting up to the drain timeout for its running
    /// attempts.
    private func retire(_ tenant: String, runner: DefaultRunner, because why: String) async {
        logger.notice("\(why)", metadata: ["tenant": "\(tenant)"])
        let forget = { [self] in
            state.withLock { state in
                if state.served[tenant]?.runner === runner { state.served[tenant] = nil }
            }
        }
        await tenants.close(tenant, timeout: configuration.drainTimeout, detached: forget)
        forget()
    }

    /// The tenants with credentials that this daemon serves (of its selection), sorted; names that cannot be tenant
    /// names are logged and left out. Nil (logged) when the credentials cannot be listed.
    func tenantsWithCredentials(_ credentials: TenantCredentialSource) async -> [String]? {
        let listed: Result<[String], CloacinaError>
        do {
            listed = try await BlockingCall.run { Result { () throws(CloacinaError) in try credentials.tenants() } }
        } catch {
            return nil
        }
        let names: [String]
        switch listed {
        case .success(let found): names = found
        case .failure(let error):
            logger.error("cannot list the tenants' credentials", metadata: ["error": "\(error.message)"])
            return nil
        }
        var served: [String] = []
        for name in names {
            if case .only(let wanted) = configuration.tenants, !wanted.contains(name) { continue }
            do {
                try tenants.validate(name)
                served.append(name)
            } catch {
                logger.warning(
                    "ignoring tenant credentials that name no tenant",
                    metadata: ["origin": "\(credentials.origin(of: name))", "error": "\(error.message)"]
                )
            }
        }
        return served
    }
}
