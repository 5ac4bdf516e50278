import ArgumentParser
import Cloacina
import CloacinaDaemon
import CloacinaHTTP
import Logging
import ServiceLifecycle
import UnixSignals

#if canImport(Glibc)
import Glibc
#endif

/// `cloacina serve`: the long-running host.
struct ServeCommand: AsyncParsableCommand, LoggingCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve the drop directory's workflows to the tenants, with hot reload and an HTTP API.",
        discussion: """
            Loads every package of the drop directory, resumes the tenants' unfinished executions, and serves \
            executions over HTTP. SIGHUP (or `cloacina reload`, or POST /admin/reload, or --watch) reloads the \
            directory: unchanged files are skipped, changed ones load beside the old versions (running executions \
            finish on the version they started with), a file that fails keeps serving its previous version. \
            SIGTERM or SIGINT stops intake, waits up to --drain-timeout for running tasks, and exits 0. The PID \
            file stays locked while the host runs, so `cloacina reload` never signals another process. Logs go to \
            standard error: --log-level or $CLOACINA_LOG_LEVEL (default: warning).

            With --tenant-credentials DIR, each PostgreSQL tenant is served as its own role (least privilege): the \
            host holds no admin URL, serves the tenants that have a credentials file (or $CLOACINA_TENANT_URL_<TENANT>) \
            and opens each with its own connection string, in its own schema, which it never creates. A reload reads \
            the files again: a new file serves its tenant, a changed one reopens the tenant's runner (running \
            attempts get --drain-timeout to finish), a removed one stops serving it.
            """
    )

    @Option(help: "Drop directory (default: $CLOACINA_WORKFLOWS_DIR, else .cloacina/workflows).")
    var workflows: String?

    @Option(
        help: ArgumentHelp(
            "PostgreSQL (a schema per tenant), else SQLite files in the data directory. \(DatabaseArgument.help)",
            valueName: "url"
        ),
        transform: DatabaseArgument.fromCommandLine
    )
    var database: String?

    @Option(help: ArgumentHelp(DatabaseArgument.fileHelp, valueName: "path"), transform: DatabaseArgument.fromFile)
    var databaseFile: String?

    @Option(
        help:
            "Directory for tenant databases, the package cache and the PID file (default: $CLOACINA_DATA_DIR, else .cloacina/data)."
    )
    var dataDir: String?

    @Option(
        help: ArgumentHelp(
            "Serve only these tenants, which must exist, except \"default\" (default: $TENANT_ID, else \"default\").",
            valueName: "a,b"
        )
    )
    var tenants: String?

    @Flag(help: "Create the tenants of --tenants that do not exist (not with --tenant-credentials).")
    var createTenant = false

    @OptionGroup(title: "Tenants' own database roles") var credentials: TenantCredentialOptions

    @Flag(help: "Serve every tenant that exists, found when first used.")
    var allTenants = false

    @Option(help: ArgumentHelp("Address of the HTTP API (loopback by default).", valueName: "host:port"))
    var http = "127.0.0.1:8080"

    @Flag(help: "Do not serve HTTP.")
    var noHTTP = false

    @Option(help: ArgumentHelp("Where to write the process id (default: <data-dir>/cloacina.pid).", valueName: "path"))
    var pidFile: String?

    @Option(help: "Seconds to wait for running tasks when stopping.")
    var drainTimeout = 30

    @Flag(help: "Reload when the drop directory changes (inotify, debounced).")
    var watch = false

    @OptionGroup var tuning: TuningOptions
    @OptionGroup(title: "Isolation") var isolation: IsolationOptions
    @OptionGroup var logging: LoggingOptions

    @OptionGroup(title: "Limits") var limits: ServeLimitOptions
    @OptionGroup(title: "Sharing task slots between tenants") var shares: TenantShareOptions
    @OptionGroup(title: "Quarantine of crashing package versions") var quarantine: QuarantineOptions

    func validate() throws {
        if allTenants && tenants != nil { throw ValidationError("give --tenants or --all-tenants, not both") }
        guard drainTimeout >= 0 else { throw ValidationError("--drain-timeout must not be negative") }
        if !noHTTP { _ = try Self.address(http) }
    }

    /// Holds `directory/serve.lock` while this host runs: SQLite tenants are served by one host at a time, and a
    /// second `serve` on the same files is refused with the first one's process and host.
    static func lockSQLiteFiles(in directory: String) throws {
        var name = [CChar](repeating: 0, count: 256)
        let host = gethostname(&name, name.count) == 0 ? String(cString: name) : "this host"
        _ = try PIDFile.lock(
            "\(directory)/serve.lock",
            writing: "pid \(getpid()) on host \(host)\n",
            naming: "the data directory lock"
        ) { pid, holder in
            "another cloacina serve (\(holder.isEmpty ? "pid \(pid)" : holder)) serves the SQLite tenants in "
                + "\(directory); SQLite tenants have one host at a time: stop that one first, or keep the tenants in "
                + "PostgreSQL (--database) to run several hosts"
        }
    }

    func run() async throws {
        var options = TenantOptions()
        options.database = database
        options.databaseFile = databaseFile
        options.dataDir = dataDir
        let source = try credentials.source(
            databaseFlag: database != nil || databaseFile != nil,
            databaseURL: options.explicitDatabaseURL
        )
        let storage = try source.map { TenantManager.Storage.postgresTenantRoles(credentials: $0) } ?? options.storage()
        if source != nil && createTenant {
            throw UsageError(
                message: "--create-tenant cannot be used with tenant credentials: a tenant's own role may not create "
                    + "its schema; create tenants with `cloacina tenant create` (with the admin URL)"
            )
        }
        let directory = workflows ?? Environment.workflowsDirectory
        try CommandPipeline.requireDirectory(directory)
        // With tenant credentials, the tenants served are those with credentials (of --tenants, when given).
        let names: [String]? =
            allTenants || (source != nil && tenants == nil)
            ? nil
            : (tenants ?? Environment.value("TENANT_ID") ?? "default").split(separator: ",").map {
                String($0.filter { $0 != " " })
            }
        // Every setting is checked before a tenant is created.
        var runner = try options.configuration(tenant: "default", tuning: tuning)
        if source != nil {
            // Each tenant's runner gets its own connection string; the host holds no other.
            runner.databaseURL = ""
        }
        runner.resumeUnfinished = true
        try shares.apply(to: &runner) { tenant throws(CloacinaError) in
            try TenantManager.validate(tenant, for: storage)
            if let names, !names.contains(tenant) {
                throw CloacinaError(.invalidInput, "this host does not serve tenant \(tenant) (--tenants)")
            }
        }
        let selection: Daemon.TenantSelection
        if let names {
            for name in names {
                do {
                    try TenantManager.validate(name, for: storage)
                } catch {
                    throw UsageError(message: error.message)
                }
                // A tenant with credentials is opened if it has them; the others are not served.
                if source == nil { try await TenantOptions.requireExisting(name, in: storage, create: createTenant) }
            }
            selection = .only(names)
        } else {
            selection = .all
        }
        try options.prepareDataDirectory()
        if case .sqliteFiles(let directory) = storage { try Self.lockSQLiteFiles(in: directory) }
        switch storage {
        case .postgresSchemas, .postgresTenantRoles:
            // Several hosts may serve one database: each looks for executions a dead host left, twice a lease.
            runner.takeoverInterval = runner.leaseDuration / 2
        case .sqliteFiles:
            break
        }

        runner.announcement = HostAnnouncement(
            address: noHTTP ? "" : http,
            version: CloacinaCommand.configuration.version
        )
        var configuration = Daemon.Configuration(workflowsDirectory: directory, storage: storage, tenants: selection)
        configuration.runner = runner
        configuration.runner.invoker = try isolation.invoker()
        configuration.drainTimeout = .seconds(drainTimeout)
        configuration.maxPendingExecutions = limits.maxPendingExecutions
        configuration.probe = PackageProbe(cacheDirectory: "\(options.dataDirectory)/probe-cache")
        configuration.quarantine = try quarantine.rule()
        configuration.quarantineDirectory = QuarantineFiles(dataDirectory: options.dataDirectory).directory
        let logger = Logger(label: "cloacina.serve")
        configuration.logger = Logger(label: "cloacina.daemon")
        let daemon = Daemon(configuration: configuration)

        var services: [ServiceGroupConfiguration.ServiceConfiguration] = []
        if !noHTTP {
            let (host, port) = try Self.address(http)
            let api = HTTPAPI.application(daemon: daemon, host: host, port: port, limits: limits.http, logger: logger)
            services.append(.init(service: api))
        }
        services.append(.init(service: DaemonService(daemon: daemon)))
        services.append(.init(service: ReloadSignalService(daemon: daemon)))
        if watch { services.append(.init(service: DirectoryWatchService(daemon: daemon))) }

        let pidPath = pidFile ?? "\(options.dataDirectory)/cloacina.pid"
        try PIDFile.write(pidPath)
        defer { PIDFile.remove(pidPath) }
        logger.notice(
            "starting",
            metadata: [
                "pid": "\(getpid())", "workflows": "\(directory)", "storage": "\(Self.describe(storage))",
                "http": "\(noHTTP ? "off" : http)",
            ]
        )
        let group = ServiceGroup(
            configuration: ServiceGroupConfiguration(
                services: services,
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger
            )
        )
        do {
            try await group.run()
        } catch {
            printError("error: \(Self.message(error))")
            throw ExitCode.failure
        }
    }

    /// `host:port`, checked.
    static func address(_ text: String) throws -> (String, Int) {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]),
            (0...65535).contains(port), colon != text.startIndex
        else {
            throw ValidationError("--http must be HOST:PORT, for example 127.0.0.1:8080 (got \"\(text)\")")
        }
        return (String(text[..<colon]), port)
    }

    /// Storage for logs, with any password redacted.
    static func describe(_ storage: TenantManager.Storage) -> String {
        switch storage {
        case .sqliteFiles(let directory): return "sqlite files in \(directory)"
        case .postgresSchemas(let url): return ConnectionStringRedaction.redact(url)
        case .postgresTenantRoles(let credentials): return "PostgreSQL, each tenant as its own role (\(credentials))"
        }
    }

    static func message(_ error: any Error) -> String {
        if let error = error as? CloacinaError { return error.message }
        if let error = error as? ServiceGroupError { return "\(error)" }
        return "\(error)"
    }
}
