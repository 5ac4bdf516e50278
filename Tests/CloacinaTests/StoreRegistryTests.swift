import Cloacina
import CloacinaPostgres
import CloacinaSDK
import CloacinaSQLite
import CloacinaStorage
import CloacinaTestSupport
import Synchronization
import Testing

/// A backend of a test's own, for the scheme `test:`: it records how it was asked to open a store and opens a
/// SQLite file in `directory` (or refuses, with `failure`). (`CloacinaStorage.` because the storage suites name
/// their helper `StoreBackend` too.)
final class RecordingBackend: CloacinaStorage.StoreBackend {
    let directory: String
    let failure: StoreError?
    let opened = Mutex<[(url: String, options: StoreOptions)]>([])

    init(directory: String, failure: StoreError? = nil) {
        self.directory = directory
        self.failure = failure
    }

    var name: String { "test" }
    var schemes: [String] { ["test"] }
    var exampleURL: String { "test://anything" }
    var supportsSchemas: Bool { true }

    func validate(url: String) throws(StoreError) {}

    func open(url: String, options: StoreOptions) throws(StoreError) -> any ExecutionStore {
        opened.withLock { $0.append((url, options)) }
        if let failure { throw failure }
        return try SQLiteExecutionStore(path: "\(directory)/test.db")
    }

    func tenantSpace(of url: String) throws(StoreError) -> String { url }
    func validate(tenant: String) throws(StoreError) {}
    func store(ofTenant tenant: String, in space: String) -> (url: String, schema: String?) { (space, tenant) }
    func tenants(in space: String) throws(StoreError) -> [String] { [] }
    func removeTenant(_ tenant: String, in space: String) throws(StoreError) {}
}

@Suite("Store registry")
struct StoreRegistryTests {
    @Test("each built-in scheme resolves to its backend")
    func builtinSchemes() throws {
        let registry = StoreRegistry.builtin
        #expect(registry.schemes == ["postgres", "postgresql", "sqlite"])
        for (url, name) in [
            ("sqlite:///var/lib/cloacina/acme.db", "SQLite"), ("sqlite:relative.db", "SQLite"),
            ("postgresql://admin@db/cloacina", "PostgreSQL"), ("postgres://admin:s3cr3t@db/cloacina", "PostgreSQL"),
        ] {
            #expect(try registry.backend(for: url).name == name, "\(url)")
        }
        #expect(registry.backend(forScheme: "sqlite")?.supportsSchemas == false)
        #expect(registry.backend(forScheme: "postgresql")?.supportsSchemas == true)
    }

    @Test(
        "a URL no backend serves is refused with the known schemes, and its password never shows",
        arguments: [
            "mysql://app:s3cr3t@db/x", "s3cr3t", "app:s3cr3t@db", "host=db password=s3cr3t", "/tmp/s3cr3t.db",
            "SQLITE:///tmp/s3cr3t.db", "",
        ]
    )
    func unknownScheme(_ url: String) {
        do throws(StoreError) {
            _ = try StoreRegistry.builtin.backend(for: url)
            Issue.record("\(url) was accepted")
        } catch {
            #expect(error.code == .configuration)
            #expect(error.message.contains("known schemes: postgres, postgresql, sqlite"), "\(error.message)")
            #expect(!error.message.contains("s3cr3t"), "\(error.message)")
        }
    }

    @Test("a runner refuses an unknown scheme as a configuration error that lists the known ones")
    func runnerRefusesUnknownScheme() async throws {
        let directory = try TemporaryDirectory("registry-unknown")
        await #expect {
            try await DefaultRunner.builder().databaseURL("mysql://app:s3cr3t@db/x")
                .packageCacheDirectory(directory.file("packages")).build()
        } throws: { error in
            let error = error as? CloacinaError
            return error?.code == .configuration && error?.message.contains("known schemes") == true
                && error?.message.contains("s3cr3t") == false
        }
        // A registry without SQLite does not open SQLite URLs.
        await #expect {
            try await DefaultRunner.builder().databaseURL("sqlite://\(directory.file("t.db"))").stores(StoreRegistry())
                .packageCacheDirectory(directory.file("packages")).build()
        } throws: { ($0 as? CloacinaError)?.message.contains("known schemes: none") == true }
    }

    @Test("a backend registered in a test opens the store of a runner built with that registry")
    func customBackend() async throws {
        let directory = try TemporaryDirectory("registry-custom")
        let backend = RecordingBackend(directory: directory.path)
        let package = WorkflowPackage(name: "custom", version: "1") {
            Workflow("hello") { WorkflowTask("greet") { ctx in ctx["greeting"] = "hi" } }
        }
        let runner = try await DefaultRunner.builder().databaseURL("test://somewhere").tenant("acme").dbPoolSize(3)
            .stores(StoreRegistry.builtin.registering(backend)).packageCacheDirectory(directory.file("packages"))
            .register(package).build()
        let result = try await runner.execute("hello")
        #expect(result.status == .completed)
        #expect(result.finalContext?["greeting"] == "hi")
        await runner.shutdown()
        let opened = backend.opened.withLock { $0 }
        #expect(opened.map(\.url) == ["test://somewhere"])
        #expect(opened.map(\.options) == [StoreOptions(schema: nil, tenant: "acme", poolSize: 3)])
        // The execution is in the file the backend opened.
        let store = try SQLiteExecutionStore(path: directory.file("test.db"))
        #expect(try store.execution(result.executionID)?.status == .completed)
    }

    @Test("a backend that cannot open its store fails the runner's start with its message")
    func failingBackend() async throws {
        let directory = try TemporaryDirectory("registry-failing")
        let backend = RecordingBackend(
            directory: directory.path,
            failure: StoreError(.unavailable, "the test store is down")
        )
        await #expect {
            try await DefaultRunner.builder().databaseURL("test://down").stores(StoreRegistry([backend]))
                .packageCacheDirectory(directory.file("packages")).build()
        } throws: { error in
            let error = error as? CloacinaError
            return error?.code == .configuration && error?.message == "the test store is down"
        }
        #expect(backend.opened.withLock { $0.count } == 1)
    }

    @Test("a later backend takes the schemes it shares with an earlier one")
    func replacing() throws {
        let backend = RecordingBackend(directory: "/nonexistent")
        let registry = StoreRegistry([SQLiteBackend(), backend])
        #expect(try registry.backend(for: "test://x").name == "test")
        #expect(registry.schemes == ["sqlite", "test"])
    }

    @Test("a tenant's SQLite file and URL come from one rule, and the URL gives the file back")
    func sqliteTenantFile() throws {
        let directory = "/data/odd%20dir?x"
        let file = SQLiteBackend.file(ofTenant: "acme", in: directory)
        #expect(file == "/data/odd%20dir?x/acme.db")
        let store = SQLiteBackend().store(ofTenant: "acme", in: directory)
        #expect(store.schema == nil)
        #expect(try SQLiteBackend.path(of: store.url) == file)
        #expect(try SQLiteBackend().tenantSpace(of: store.url) == directory)
    }

    @Test(
        "TenantManager storage follows the URL's backend: schemas of a PostgreSQL database, files beside a SQLite file"
    )
    func tenantStorage() throws {
        #expect(
            try TenantManager.Storage(databaseURL: "sqlite:///data/tenants/default.db")
                == .sqliteFiles(directory: "/data/tenants")
        )
        let url = "postgresql://admin@db/cloacina"
        #expect(try TenantManager.Storage(databaseURL: url) == .postgresSchemas(url: url))
        #expect(try TenantManager.Storage.postgresSchemas(url: url).store(ofTenant: "acme") == (url, "acme"))
        let files = TenantManager.Storage.sqliteFiles(directory: "/data/tenants")
        #expect(try files.store(ofTenant: "acme").url == "sqlite:///data/tenants/acme.db")
        // Each backend's naming rule.
        #expect(throws: CloacinaError.self) { try TenantManager.validate("../etc", for: files) }
        #expect(throws: CloacinaError.self) { try TenantManager.validate("Acme", for: .postgresSchemas(url: url)) }
        try TenantManager.validate("Acme-1", for: files)
        // Storage no registered backend serves.
        #expect(throws: CloacinaError.self) { try TenantManager.validate("acme", for: files, stores: StoreRegistry()) }
    }
}
