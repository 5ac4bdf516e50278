internal import CloacinaStorage

#if canImport(Glibc)
internal import Glibc
#endif

/// Where a host finds each tenant's own PostgreSQL connection string (its own login role, as `DatabaseAdmin` creates
/// them), so that it reaches every tenant with that tenant's privileges instead of one admin URL
/// (``TenantManager/Storage/postgresTenantRoles(credentials:)``):
///
/// - a directory with one file per tenant, named exactly as the tenant and holding its connection string (a
///   `postgresql://` URL or a libpq `key=value` string; white space and line breaks around it are ignored). A file
///   is accepted only when it is a regular file (not a symbolic link) owned by this process's user and with no
///   permission for group or others (mode 0600 or 0400); otherwise that tenant is refused, naming the file and what
///   is wrong with it;
/// - else the environment variable ``environmentVariable(for:)`` (`CLOACINA_TENANT_URL_ACME` for `acme`), as the
///   process had it when the source was made.
///
/// Every call reads the directory again, so a host that asks on each reload sees new, changed and removed files.
/// Reads block their thread: call them off Swift's cooperative pool. No message, description or mirror shows a
/// connection string. It does not check that a string is PostgreSQL's or that its role may use the tenant's schema:
/// opening the tenant's store does.
public struct TenantCredentialSource: Sendable, Hashable, CustomStringConvertible, CustomDebugStringConvertible,
    CustomReflectable
{
    /// What the environment variables of tenants' connection strings start with.
    public static let environmentPrefix = "CLOACINA_TENANT_URL_"
    /// The largest credentials file read.
    public static let fileLimit = 64 << 10

    /// The directory of per-tenant files; nil for the environment alone.
    public let directory: String?
    /// The environment's tenants' connection strings, by variable name.
    private let environment: [String: String]

    /// A source reading the files of `directory` (none when nil) and the `CLOACINA_TENANT_URL_*` variables of
    /// `environment` (by default this process's environment, read now).
    public init(directory: String?, environment: [String: String]? = nil) {
        self.directory = directory
        let variables = environment ?? Self.processEnvironment()
        self.environment = variables.filter { $0.key.hasPrefix(Self.environmentPrefix) && !$0.value.isEmpty }
    }

    /// The variable holding `tenant`'s connection string: ``environmentPrefix`` and the name upper-cased, with `-` as
    /// `_` (`CLOACINA_TENANT_URL_ACME_EU` for `acme_eu`). PostgreSQL tenant names are lower-case letters, digits and
    /// `_`, so no two tenants share a variable.
    public static func environmentVariable(for tenant: String) -> String {
        environmentPrefix + tenant.uppercased().replacing("-", with: "_")
    }

    /// The tenants with credentials, sorted: the names of the directory's entries (hidden ones, starting with `.`,
    /// left out) and the variables' names after the prefix, lower-cased. Names are not checked to be tenant names.
    /// Throws `configuration` when the directory cannot be read.
    public func tenants() throws(CloacinaError) -> [String] {
        var names = Set(environment.keys.map { String($0.dropFirst(Self.environmentPrefix.count)).lowercased() })
        names.remove("")
        if let directory {
            do throws(FileSystem.Failure) {
                names.formUnion(try FileSystem.listDirectory(directory))
            } catch {
                throw CloacinaError(.configuration, "the tenant credentials directory: \(error.description)")
            }
        }
        return names.sorted()
    }

    /// Whether `tenant` has credentials here: an entry named like it in the directory (whatever it is: reading it
    /// decides whether it is accepted), or its variable.
    public func hasCredentials(for tenant: String) -> Bool {
        if let path = path(of: tenant), FileSystem.exists(path, followingLinks: false) { return true }
        return environment[Self.environmentVariable(for: tenant)] != nil
    }

    /// Where `tenant`'s credentials come from, for messages: its file, else its variable.
    public func origin(of tenant: String) -> String {
        if let path = path(of: tenant), FileSystem.exists(path, followingLinks: false) { return path }
        return "$\(Self.environmentVariable(for: tenant))"
    }

    /// `tenant`'s connection string, without the white space around it: from its file when it has one (even a
    /// refused one: a file is never passed over for the variable), else from its variable.
    ///
    /// Throws `notFound` when it has neither, and `configuration` naming the file and what is wrong with it when the
    /// file is refused (a symbolic link, not a regular file, another user's, open to group or others, over
    /// ``fileLimit``, not UTF-8, empty, or holding a NUL byte), `invalidInput` for a name that could leave the
    /// directory (empty, hidden, or with a `/`).
    public func connectionString(for tenant: String) throws(CloacinaError) -> String {
        guard Self.canNameFile(tenant) else {
            throw CloacinaError(.invalidInput, "\"\(tenant)\" cannot name a tenant credentials file")
        }
        if let path = path(of: tenant), FileSystem.exists(path, followingLinks: false) {
            let bytes: [UInt8]
            do throws(FileSystem.Failure) {
                bytes = try FileSystem.readPrivateFile(path, limit: Self.fileLimit)
            } catch {
                throw CloacinaError(.configuration, "the tenant credentials file \(path) \(error.description)")
            }
            return try Self.trimmed(bytes, origin: "the tenant credentials file \(path)")
        }
        let variable = Self.environmentVariable(for: tenant)
        guard let value = environment[variable] else {
            throw CloacinaError(
                .notFound,
                "tenant \"\(tenant)\" has no credentials ("
                    + (directory.map { "no file \($0)/\(tenant), " } ?? "") + "no $\(variable))"
            )
        }
        return try Self.trimmed(Array(value.utf8), origin: "$\(variable)")
    }

    public var description: String {
        "tenant credentials in " + (directory.map { "\($0) and " } ?? "") + "$\(Self.environmentPrefix)<TENANT>"
    }

    public var debugDescription: String { description }

    /// The directory and the names of the variables, never their values.
    public var customMirror: Mirror {
        Mirror(self, children: ["directory": directory as Any, "variables": environment.keys.sorted()])
    }

    /// The path of `tenant`'s file; nil without a directory, or for a name that could leave it.
    private func path(of tenant: String) -> String? {
        guard Self.canNameFile(tenant) else { return nil }
        return directory.map { "\($0)/\(tenant)" }
    }

    /// Whether `name` names an entry of the directory itself: not empty, not hidden, no `/` or NUL.
    private static func canNameFile(_ name: String) -> Bool {
        !name.isEmpty && !name.hasPrefix(".") && !name.contains("/") && !name.utf8.contains(0)
    }

    /// `bytes` as text without the white space around it; refused when empty, not UTF-8, or holding a NUL byte.
    private static func trimmed(_ bytes: [UInt8], origin: String) throws(CloacinaError) -> String {
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw CloacinaError(.configuration, "\(origin) is not UTF-8 text")
        }
        guard !text.utf8.contains(0) else { throw CloacinaError(.configuration, "\(origin) holds a NUL byte") }
        let value = text.drop(while: \.isWhitespace).reversed().drop(while: \.isWhitespace).reversed()
        guard !value.isEmpty else { throw CloacinaError(.configuration, "\(origin) is empty") }
        return String(value)
    }

    /// This process's environment, read from `environ`.
    private static func processEnvironment() -> [String: String] {
        var variables: [String: String] = [:]
        var cursor = environ
        while let entry = cursor.pointee {
            cursor += 1
            let text = String(cString: entry)
            guard let equals = text.firstIndex(of: "=") else { continue }
            variables[String(text[..<equals])] = String(text[text.index(after: equals)...])
        }
        return variables
    }
}
