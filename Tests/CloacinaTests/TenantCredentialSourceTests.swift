import Cloacina
import CloacinaPostgres
import CloacinaTestSupport
import Foundation
import Testing

/// Where `serve` finds each tenant's own connection string: files of a private directory, else environment
/// variables; what is refused and how it is said (never with the secret); libpq key=value strings as URLs.
@Suite("Tenant credentials")
struct TenantCredentialSourceTests {
    static let secret = "s3cr3t-\(UUID().uuidString)"

    /// Writes `text` to `name` in `directory` with `mode`.
    static func write(_ text: String, _ name: String, in directory: TemporaryDirectory, mode: mode_t = 0o600) throws {
        let path = directory.file(name)
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        #expect(chmod(path, mode) == 0)
    }

    /// The error `body` throws; a failure when it throws none.
    static func refusal(_ body: () throws(CloacinaError) -> String) -> CloacinaError? {
        do throws(CloacinaError) {
            let value = try body()
            Issue.record("not refused: \(value.count) characters")
            return nil
        } catch {
            return error
        }
    }

    @Test("a tenant's variable is its name upper-cased with - as _, after CLOACINA_TENANT_URL_")
    func environmentNames() {
        #expect(TenantCredentialSource.environmentVariable(for: "acme") == "CLOACINA_TENANT_URL_ACME")
        #expect(TenantCredentialSource.environmentVariable(for: "acme_eu2") == "CLOACINA_TENANT_URL_ACME_EU2")
        #expect(TenantCredentialSource.environmentVariable(for: "a-b") == "CLOACINA_TENANT_URL_A_B")
    }

    @Test("variables: listed lower-cased, values trimmed, empty ones and other variables ignored")
    func environment() throws {
        let source = TenantCredentialSource(
            directory: nil,
            environment: [
                "CLOACINA_TENANT_URL_ACME": "  postgresql://acme:\(Self.secret)@db/app \n",
                "CLOACINA_TENANT_URL_EMPTY": "", "CLOACINA_TENANT_URL_": "x", "DATABASE_URL": "postgresql://admin@db",
                "CLOACINA_TENANT_URL_GLOBEX": " \n ",
            ]
        )
        #expect(try source.tenants() == ["acme", "globex"])
        #expect(try source.connectionString(for: "acme") == "postgresql://acme:\(Self.secret)@db/app")
        #expect(source.hasCredentials(for: "acme") && !source.hasCredentials(for: "empty"))
        #expect(source.origin(of: "acme") == "$CLOACINA_TENANT_URL_ACME")
        let blank = Self.refusal { () throws(CloacinaError) in try source.connectionString(for: "globex") }
        #expect(blank?.code == .configuration && blank?.message == "$CLOACINA_TENANT_URL_GLOBEX is empty")
        let missing = Self.refusal { () throws(CloacinaError) in try source.connectionString(for: "initech") }
        #expect(missing?.code == .notFound)
        #expect(missing?.message.contains("no $CLOACINA_TENANT_URL_INITECH") == true, "\(missing?.message ?? "")")
        // Nothing shows a value.
        for text in [
            String(describing: source), String(reflecting: source),
            {
                var s = ""
                dump(source, to: &s)
                return s
            }(),
        ] {
            #expect(!text.contains(Self.secret), "\(text)")
        }
    }

    @Test("files: named as the tenant, trimmed, read again each time, and preferred to the variable")
    func files() throws {
        let directory = try TemporaryDirectory("credentials")
        try Self.write("postgresql://acme:\(Self.secret)@db/app\n\n", "acme", in: directory)
        try Self.write("host=db user=globex", "globex", in: directory, mode: 0o400)
        try Self.write("ignored", ".acme.swp", in: directory)
        let source = TenantCredentialSource(
            directory: directory.path,
            environment: ["CLOACINA_TENANT_URL_ACME": "postgresql://other@db/app", "CLOACINA_TENANT_URL_ENV": "x=y"]
        )
        #expect(try source.tenants() == ["acme", "env", "globex"])
        #expect(try source.connectionString(for: "acme") == "postgresql://acme:\(Self.secret)@db/app")
        #expect(try source.connectionString(for: "globex") == "host=db user=globex")
        #expect(source.origin(of: "acme") == directory.file("acme"))
        try Self.write("postgresql://acme:changed@db/app", "acme", in: directory)
        #expect(try source.connectionString(for: "acme") == "postgresql://acme:changed@db/app")
        #expect(unlink(directory.file("acme")) == 0)
        #expect(try source.connectionString(for: "acme") == "postgresql://other@db/app")
        let escape = Self.refusal { () throws(CloacinaError) in try source.connectionString(for: "../acme") }
        #expect(escape?.code == .invalidInput)
        #expect(!source.hasCredentials(for: ".acme.swp"))
    }

    @Test("a file open to others, a link, another user's, a directory, empty or not UTF-8 is refused, naming it")
    func refusals() throws {
        let directory = try TemporaryDirectory("credentials-refused")
        let url = "postgresql://acme:\(Self.secret)@db/app"
        try Self.write(url, "target", in: directory)
        try Self.write(url, "readable", in: directory, mode: 0o644)
        try Self.write(url, "grouped", in: directory, mode: 0o640)
        try Self.write(url, "writable", in: directory, mode: 0o602)
        #expect(symlink(directory.file("target"), directory.file("linked")) == 0)
        #expect(mkdir(directory.file("folder"), 0o700) == 0)
        try Self.write(" \n\t", "blank", in: directory)
        try Data([0x70, 0xFF, 0xFE]).write(to: URL(fileURLWithPath: directory.file("binary")))
        #expect(chmod(directory.file("binary"), 0o600) == 0)
        let source = TenantCredentialSource(directory: directory.path, environment: ["CLOACINA_TENANT_URL_LINKED": url])
        let expected = [
            "readable": "has mode 0644", "grouped": "has mode 0640", "writable": "has mode 0602",
            "linked": "is a symbolic link", "folder": "is not a regular file", "blank": "is empty",
            "binary": "is not UTF-8",
        ]
        for (name, problem) in expected.sorted(by: { $0.key < $1.key }) {
            #expect(source.hasCredentials(for: name))
            let error = Self.refusal { () throws(CloacinaError) in try source.connectionString(for: name) }
            #expect(error?.code == .configuration, "\(name)")
            let message = error?.message ?? ""
            #expect(message.hasPrefix("the tenant credentials file \(directory.file(name)) "), "\(message)")
            #expect(message.contains(problem), "\(name): \(message)")
            #expect(!message.contains(Self.secret))
        }
        // As root the test can give a file away; then it is another user's.
        if geteuid() == 0 {
            try Self.write(url, "foreign", in: directory)
            #expect(chown(directory.file("foreign"), 65534, 65534) == 0)
            let error = Self.refusal { () throws(CloacinaError) in try source.connectionString(for: "foreign") }
            #expect(error?.message.contains("belongs to another user (uid 65534)") == true, "\(error?.message ?? "")")
        }
    }

    @Test("PostgreSQL tenants with their own roles: key=value strings become URLs; other strings are refused unseen")
    func connectionStrings() throws {
        let backend = PostgresBackend()
        let keyValue = "host=/tmp/pg port=5433 dbname='app db' user=acme password='\(Self.secret) x'"
        let url = try backend.url(forConnectionString: keyValue)
        #expect(url.hasPrefix("postgresql://?"))
        let parsed = try PostgresConnection.parameters(of: url).map { "\($0.keyword)=\($0.value)" }
        #expect(
            Set(parsed) == ["host=/tmp/pg", "port=5433", "dbname=app db", "user=acme", "password=\(Self.secret) x"]
        )
        #expect(!ConnectionStringRedaction.redact(url).contains(Self.secret))
        #expect(try backend.url(forConnectionString: "postgres://acme@db/app") == "postgres://acme@db/app")
        for refused in ["sqlite:///var/db/acme.db", "mysql://acme:\(Self.secret)@db/app", Self.secret, "a=b c"] {
            do throws(StoreError) {
                _ = try backend.url(forConnectionString: refused)
                Issue.record("accepted a connection string that is not PostgreSQL's")
            } catch {
                #expect(error.code == .configuration)
                #expect(!error.message.contains(Self.secret), "\(error.message)")
            }
        }

        let directory = try TemporaryDirectory("credentials-storage")
        try Self.write(keyValue, "acme", in: directory)
        try Self.write("sqlite:///var/db/globex.db", "globex", in: directory)
        let storage = TenantManager.Storage.postgresTenantRoles(
            credentials: TenantCredentialSource(directory: directory.path, environment: [:])
        )
        #expect(try storage.store(ofTenant: "acme") == (url, "acme"))
        let error = Self.refusal { () throws(CloacinaError) in try storage.store(ofTenant: "globex").url }
        #expect(error?.code == .configuration)
        #expect(error?.message.contains("(\(directory.file("globex")))") == true, "\(error?.message ?? "")")
        #expect(error?.message.contains("not a PostgreSQL connection string") == true, "\(error?.message ?? "")")
        #expect(throws: CloacinaError.self) { try TenantManager.validate("Acme", for: storage) }
        try TenantManager.validate("acme", for: storage)
    }
}
