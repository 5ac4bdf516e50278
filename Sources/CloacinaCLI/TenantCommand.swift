import ArgumentParser
import Cloacina
import CloacinaPostgresAdmin
import CloacinaSQLite

#if canImport(Glibc)
import Glibc
#endif

/// `cloacina tenant create|remove|list`: provisioning tenants.
///
/// With a PostgreSQL admin URL (`--database` or `DATABASE_URL`) a tenant is a schema with its own login role
/// (``DatabaseAdmin``); otherwise it is a SQLite file in the data directory (``SQLiteTenantManager``).
struct TenantCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tenant",
        abstract: "Create, remove and list tenants.",
        discussion: """
            With a PostgreSQL admin URL (--database or $DATABASE_URL), a tenant is a schema with a login role that \
            can use only that schema; `create` prints its credentials once. Without one, a tenant is a SQLite file \
            in the data directory.
            """,
        subcommands: [Create.self, Remove.self, List.self]
    )

    /// The database options shared by the subcommands (the tenant id comes as an argument, not `--tenant`).
    struct StorageOptions: ParsableArguments {
        @Option(
            help: ArgumentHelp(
                "PostgreSQL admin URL (without one, SQLite). \(DatabaseArgument.help)",
                valueName: "url"
            ),
            transform: DatabaseArgument.fromCommandLine
        )
        var database: String?

        @Option(help: ArgumentHelp(DatabaseArgument.fileHelp, valueName: "path"), transform: DatabaseArgument.fromFile)
        var databaseFile: String?

        @Option(help: "Directory of the SQLite tenant files (default: $CLOACINA_DATA_DIR, else .cloacina/data).")
        var dataDir: String?

        @Option(help: "Output format: text or json.")
        var output: OutputFormat = .text

        var options: TenantOptions {
            var options = TenantOptions()
            options.database = database
            options.databaseFile = databaseFile
            options.dataDir = dataDir
            return options
        }
    }

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create a tenant; on PostgreSQL, print its credentials (once: store them safely)."
        )

        @Argument(help: "The tenant id (on PostgreSQL, the schema name: lower-case letters, digits, '_').")
        var id: String

        @Option(
            help:
                "PostgreSQL login role for the tenant, created with it (default: the tenant id); it must not exist yet."
        )
        var username: String?

        @Option(
            help:
                "The role's password (default: a generated one). Prefer --password-file: arguments are visible to other users."
        )
        var password: String?

        @Option(help: ArgumentHelp("Read the role's password from a file, or - for standard input.", valueName: "path"))
        var passwordFile: String?

        @OptionGroup var storage: StorageOptions

        func validate() throws {
            if password != nil && passwordFile != nil {
                throw ValidationError("give the password with --password or --password-file, not both")
            }
        }

        func run() async throws {
            switch try storage.options.storage() {
            case .sqliteFiles(let directory):
                guard username == nil, password == nil, passwordFile == nil else {
                    throw UsageError(message: "--username and --password need a PostgreSQL admin URL (--database)")
                }
                try await TenantCommand.createFile(id, in: directory, output: storage.output)
            case .postgresTenantRoles:
                throw TenantCommand.needsAdminURL
            case .postgresSchemas(let url):
                let secret = try passwordFile.map(TenantCommand.readPassword) ?? password ?? ""
                let credentials = try await TenantCommand.withAdmin(url) { admin throws(CloacinaError) in
                    try await admin.createTenant(
                        TenantConfig(schemaName: id, username: username ?? id, password: secret)
                    )
                }
                switch storage.output {
                case .json:
                    let json: JSONValue = [
                        "username": .string(credentials.username),
                        "password": .string(credentials.password),
                        "schema_name": .string(credentials.schemaName),
                        "connection_string": .string(credentials.connectionString),
                    ]
                    print(json.serializedString(pretty: true))
                case .text:
                    print(
                        """
                        created tenant \(credentials.schemaName)
                        username           \(credentials.username)
                        password           \(credentials.password)
                        schema             \(credentials.schemaName)
                        connection string  \(credentials.connectionString)
                        (the password is shown only now)
                        """
                    )
                }
            }
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Remove a tenant and everything it stored (on PostgreSQL: its schema and its role)."
        )

        @Argument(help: "The tenant id.")
        var id: String

        @Option(
            help: """
                PostgreSQL login role of the tenant (default: the role recorded when it was created; for a tenant made \
                before roles were recorded, the tenant id). A role other than the recorded one is refused.
                """
        )
        var username: String?

        @OptionGroup var storage: StorageOptions

        func run() async throws {
            switch try storage.options.storage() {
            case .sqliteFiles(let directory):
                let tenants = try TenantCommand.fileTenants(directory)
                try await TenantCommand.outcome { () async throws(CloacinaError) in try await tenants.deleteTenant(id) }
                switch storage.output {
                case .json: print(JSONValue.object(["removed": .string(id)]).serializedString(pretty: true))
                case .text: print("removed tenant \(id)")
                }
            case .postgresTenantRoles:
                throw TenantCommand.needsAdminURL
            case .postgresSchemas(let url):
                let removed = try await TenantCommand.withAdmin(url) { admin throws(CloacinaError) in
                    try await admin.removeTenant(schemaName: id, username: username)
                }
                switch storage.output {
                case .json:
                    let json: JSONValue = [
                        "removed": .string(id),
                        "schema": removed.removedSchema ? .string(removed.schemaName) : .null,
                        "role": removed.removedRole.map(JSONValue.string) ?? .null,
                        "kept_role": removed.keptRole.map(JSONValue.string) ?? .null,
                        "kept_role_reason": removed.keptRoleReason.map(JSONValue.string) ?? .null,
                    ]
                    print(json.serializedString(pretty: true))
                case .text: print(removed.description)
                }
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List the tenants (on PostgreSQL with the login role recorded for each).",
            discussion: """
                Text: one tenant a line (on PostgreSQL: the tenant, then its role, or "-" when no role is recorded). \
                JSON: an array of {tenant} objects, on PostgreSQL {tenant, role, created_at} (role and created_at \
                null when not recorded; created_at in milliseconds since the epoch).
                """
        )

        @OptionGroup var storage: StorageOptions

        func run() async throws {
            let tenants: [DatabaseAdmin.Tenant]
            var roles = false
            switch try storage.options.storage() {
            case .sqliteFiles(let directory):
                guard access(directory, F_OK) == 0 else {
                    tenants = []
                    break
                }
                let files = try TenantCommand.fileTenants(directory)
                tenants = try await TenantCommand.outcome { () async throws(CloacinaError) in try files.listTenants() }
                    .map { DatabaseAdmin.Tenant(schemaName: $0, roleName: nil, createdAt: nil) }
            case .postgresTenantRoles:
                throw TenantCommand.needsAdminURL
            case .postgresSchemas(let url):
                roles = true
                tenants = try await TenantCommand.withAdmin(url) { admin throws(CloacinaError) in
                    try await admin.tenants()
                }
            }
            switch storage.output {
            case .json:
                let rows = tenants.map { tenant -> JSONValue in
                    var row: [String: JSONValue] = ["tenant": .string(tenant.schemaName)]
                    if roles {
                        row["role"] = tenant.roleName.map(JSONValue.string) ?? .null
                        row["created_at"] = tenant.createdAt.map { .int(Int($0.milliseconds)) } ?? .null
                    }
                    return .object(row)
                }
                print(JSONValue.array(rows).serializedString(pretty: true))
            case .text:
                let width = tenants.map(\.schemaName.count).max() ?? 0
                for tenant in tenants {
                    guard roles else {
                        print(tenant.schemaName)
                        continue
                    }
                    let padding = String(repeating: " ", count: width - tenant.schemaName.count)
                    print("\(tenant.schemaName)\(padding)  \(tenant.roleName ?? "-")")
                }
            }
        }
    }

    // MARK: Helpers

    /// Tenants' own roles serve tenants; creating, listing and removing them takes the admin URL.
    static let needsAdminURL = UsageError(message: "tenant commands need the PostgreSQL admin URL (--database)")

    static func fileTenants(_ directory: String) throws -> SQLiteTenantManager {
        do {
            return try SQLiteTenantManager(dataDirectory: directory)
        } catch {
            throw UsageError(message: error.message)
        }
    }

    /// Creates a tenant's SQLite file with its tables; refuses one that exists.
    static func createFile(_ id: String, in directory: String, output: OutputFormat) async throws {
        let tenants = try fileTenants(directory)
        try await outcome { () async throws(CloacinaError) in
            try tenants.manager.validate(id)
            guard try !tenants.listTenants().contains(id) else {
                throw CloacinaError(.conflict, "tenant \"\(id)\" already exists in \(directory)")
            }
            _ = try await tenants.runner(for: id)
            await tenants.manager.shutdown()
        }
        let path = SQLiteBackend.file(ofTenant: id, in: directory)
        switch output {
        case .json:
            print(JSONValue.object(["tenant": .string(id), "database": .string(path)]).serializedString(pretty: true))
        case .text: print("created tenant \(id) (\(path))")
        }
    }

    /// Runs `body` with an admin connection, closing it after; errors become exit statuses.
    static func withAdmin<T>(
        _ url: String,
        _ body: (DatabaseAdmin) async throws(CloacinaError) -> T
    ) async throws -> T {
        let admin: DatabaseAdmin
        do {
            admin = try DatabaseAdmin(databaseURL: url)
        } catch {
            throw UsageError(message: error.message)
        }
        defer { admin.close() }
        return try await outcome { () async throws(CloacinaError) in try await body(admin) }
    }

    /// `body`'s value; invalid names are usage errors (exit 2), anything else a failure (exit 1).
    static func outcome<T>(_ body: () async throws(CloacinaError) -> T) async throws -> T {
        do {
            return try await body()
        } catch  where error.code == .invalidInput || error.code == .configuration {
            throw UsageError(message: error.message)
        } catch {
            printError("error: \(error.message)")
            throw ExitCode.failure
        }
    }

    /// The first line of a password file (or standard input), without its line break.
    static func readPassword(_ path: String) throws -> String {
        let bytes = try InputFile.read(path, what: "password file")
        var text = String(decoding: bytes, as: UTF8.self)
        if let newline = text.firstIndex(where: { $0 == "\n" || $0 == "\r\n" }) { text = String(text[..<newline]) }
        guard !text.isEmpty else { throw UsageError(message: "the password file \(path) is empty") }
        return text
    }
}
