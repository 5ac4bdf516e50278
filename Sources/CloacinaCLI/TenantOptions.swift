import ArgumentParser
import Cloacina
import CloacinaSQLite

#if canImport(Glibc)
import Glibc
#endif

/// Where a command finds a tenant's state: the options shared by `run` and `executions`.
///
/// Each setting comes from its flag, else the environment, else a default. The default store is a SQLite file per
/// tenant under the data directory, so nothing needs a server.
struct TenantOptions: ParsableArguments {
    @Option(help: "Tenant id (default: $TENANT_ID, else \"default\").")
    var tenant: String?

    @Option(
        help: ArgumentHelp(
            "\(DatabaseArgument.help) Without one: $CLOACINA_DATABASE_URL, else <data-dir>/<tenant>.db.",
            valueName: "url"
        ),
        transform: DatabaseArgument.fromCommandLine
    )
    var database: String?

    @Option(help: ArgumentHelp(DatabaseArgument.fileHelp, valueName: "path"), transform: DatabaseArgument.fromFile)
    var databaseFile: String?

    @Option(
        help: "Directory for tenant databases and the package cache (default: $CLOACINA_DATA_DIR, else .cloacina/data)."
    )
    var dataDir: String?

    /// The tenant id, checked by the rule of the storage: SQLite file names (letters, digits, `_`, `-`) or
    /// PostgreSQL schema names (lower-case letters, digits, `_`).
    func tenantID() throws -> String {
        let tenant = tenant ?? Environment.value("TENANT_ID") ?? "default"
        let storage = try storage()
        do throws(CloacinaError) {
            try TenantManager.validate(tenant, for: storage)
        } catch {
            throw UsageError(message: error.message)
        }
        return tenant
    }

    /// The explicit database URL (flags, then environment), if any.
    var explicitDatabaseURL: String? {
        database ?? databaseFile ?? Environment.value("DATABASE_URL") ?? Environment.value("CLOACINA_DATABASE_URL")
    }

    /// Where tenants live: schemas of the PostgreSQL database given, else files in the data directory.
    func storage() throws -> TenantManager.Storage {
        _ = try DatabaseArgument.chosen(database, databaseFile)
        guard let url = explicitDatabaseURL else { return .sqliteFiles(directory: dataDirectory) }
        do {
            let storage = try TenantManager.Storage(databaseURL: url)
            if case .sqliteFiles = storage { return .sqliteFiles(directory: dataDirectory) }
            return storage
        } catch {
            throw UsageError(message: error.message)
        }
    }

    var dataDirectory: String { Self.dataDirectory(dataDir) }

    /// The data directory `--data-dir` (`flag`) names, else `$CLOACINA_DATA_DIR`, else `.cloacina/data`: for
    /// commands that need only it.
    static func dataDirectory(_ flag: String?) -> String {
        flag ?? Environment.value("CLOACINA_DATA_DIR") ?? ".cloacina/data"
    }

    /// The database URL for `tenant`.
    func databaseURL(tenant: String) -> String {
        explicitDatabaseURL ?? SQLiteBackend().store(ofTenant: tenant, in: dataDirectory).url
    }

    /// The SQLite file behind `url`, if it is a SQLite URL.
    func sqlitePath(_ url: String) throws -> String? {
        guard SQLiteBackend().serves(url) else { return nil }
        do {
            return try SQLiteBackend.path(of: url)
        } catch {
            throw UsageError(message: error.message)
        }
    }

    /// Creates the data directory, or explains why it cannot be used.
    func prepareDataDirectory() throws {
        let directory = dataDirectory
        var prefix = directory.hasPrefix("/") ? "" : "."
        for component in directory.split(separator: "/") {
            prefix += "/" + component
            if mkdir(prefix, 0o700) != 0 && errno != EEXIST {
                throw UsageError(
                    message: "cannot create data directory \(directory): \(String(cString: strerror(errno)))"
                )
            }
        }
        guard access(directory, W_OK | X_OK) == 0 else {
            throw UsageError(
                message: "data directory \(directory) is not writable: \(String(cString: strerror(errno)))"
            )
        }
    }

    /// A runner configuration for `tenant`, tuned from `tuning` and the environment.
    func configuration(tenant: String, tuning: TuningOptions?) throws -> DefaultRunner.Configuration {
        var configuration = DefaultRunner.Configuration(databaseURL: databaseURL(tenant: tenant))
        configuration.tenant = tenant
        configuration.packageCacheDirectory = "\(dataDirectory)/packages"
        configuration.resumeUnfinished = false
        if let tuning { try tuning.apply(to: &configuration) }
        return configuration
    }
}

/// Runner tuning: flags, else the environment variables of the seed documents, else the runner's defaults.
struct TuningOptions: ParsableArguments {
    @Option(help: "Task attempts run at once (default: $MAX_CONCURRENT_TASKS, else twice the processors).")
    var maxConcurrentTasks: Int?

    @Option(
        help: ArgumentHelp(
            "At most this many task attempts of any one tenant run at once (default: $CLOACINA_TENANT_MAX_CONCURRENT_TASKS, else no limit but --max-concurrent-tasks).",
            valueName: "n"
        )
    )
    var tenantMaxConcurrentTasks: Int?

    @Option(help: "Seconds an attempt may run when its task sets no limit (default: $TASK_TIMEOUT_SECONDS, else 300).")
    var taskTimeout: Int?

    @Option(help: "Database connections for reads (default: $DB_POOL_SIZE, else 4).")
    var dbPoolSize: Int?

    @Option(
        help:
            "The largest task output kept, in bytes; a larger one fails its attempt (default: $CLOACINA_MAX_OUTPUT_BYTES, else 64 MiB)."
    )
    var maxOutputBytes: Int?

    @Option(
        help: ArgumentHelp(
            "Log lines kept per task attempt; later ones are counted as dropped (default: $CLOACINA_MAX_LOG_LINES, else 1000).",
            valueName: "n"
        )
    )
    var maxLogLines: Int?

    @Option(
        help: ArgumentHelp(
            "The longest log line kept, in bytes; a longer one is cut (default: $CLOACINA_MAX_LOG_LINE_BYTES, else 8192; at least 64).",
            valueName: "bytes"
        )
    )
    var maxLogLineBytes: Int?

    @Option(
        help: ArgumentHelp(
            "Seconds a claim on an execution lasts unless renewed; another host takes over a dead host's executions "
                + "within 1.5 times this (default: $CLOACINA_LEASE_SECONDS, else 15).",
            valueName: "seconds"
        )
    )
    var lease: Int?

    func apply(to configuration: inout DefaultRunner.Configuration) throws {
        if let value = try Self.setting(lease, "CLOACINA_LEASE_SECONDS", flag: "--lease") {
            configuration.leaseDuration = .seconds(value)
        }
        if let value = try Self.setting(maxConcurrentTasks, "MAX_CONCURRENT_TASKS", flag: "--max-concurrent-tasks") {
            configuration.maxConcurrentTasks = value
        }
        if let value = try Self.setting(
            tenantMaxConcurrentTasks,
            "CLOACINA_TENANT_MAX_CONCURRENT_TASKS",
            flag: "--tenant-max-concurrent-tasks"
        ) {
            configuration.tenantShare.maxConcurrentTasks = value
        }
        if let value = try Self.setting(taskTimeout, "TASK_TIMEOUT_SECONDS", flag: "--task-timeout") {
            configuration.taskTimeout = .seconds(value)
        }
        if let value = try Self.setting(dbPoolSize, "DB_POOL_SIZE", flag: "--db-pool-size") {
            configuration.dbPoolSize = value
        }
        if let value = try Self.setting(maxOutputBytes, "CLOACINA_MAX_OUTPUT_BYTES", flag: "--max-output-bytes") {
            configuration.maximumOutputBytes = value
        }
        if let value = try Self.setting(maxLogLines, "CLOACINA_MAX_LOG_LINES", flag: "--max-log-lines") {
            configuration.maximumLogLines = value
        }
        if let value = try Self.setting(maxLogLineBytes, "CLOACINA_MAX_LOG_LINE_BYTES", flag: "--max-log-line-bytes") {
            guard value >= 64 else {
                throw UsageError(message: "the longest log line kept must be at least 64 bytes, got \(value)")
            }
            configuration.maximumLogLineBytes = value
        }
    }

    /// The flag's value, else the environment variable's, checked to be a positive integer.
    private static func setting(_ flag: Int?, _ variable: String, flag name: String) throws -> Int? {
        if let flag {
            guard flag > 0 else { throw UsageError(message: "\(name) must be a positive integer, got \(flag)") }
            return flag
        }
        guard let text = Environment.value(variable) else { return nil }
        guard let value = Int(text), value > 0 else {
            throw UsageError(message: "\(variable) must be a positive integer, got \"\(text)\"")
        }
        return value
    }
}
