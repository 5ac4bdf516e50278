/// The store backends a runner can open, by URL scheme: a database URL's scheme (`sqlite`, `postgresql`, …) picks
/// the ``StoreBackend`` that opens it.
///
/// The engine's default registry has the SQLite and PostgreSQL backends; a registry of one's own (a test's
/// in-memory or failing store, say) goes in the runner's configuration.
public struct StoreRegistry: Sendable {
    private var backends: [String: any StoreBackend]

    /// A registry of `backends`; a later one takes the schemes it shares with an earlier one.
    public init(_ backends: [any StoreBackend] = []) {
        self.backends = [:]
        for backend in backends { register(backend) }
    }

    /// Makes `backend` serve its schemes, in place of any backend that served them.
    public mutating func register(_ backend: any StoreBackend) {
        for scheme in backend.schemes { backends[scheme] = backend }
    }

    /// This registry with `backend` registered.
    public func registering(_ backend: any StoreBackend) -> StoreRegistry {
        var copy = self
        copy.register(backend)
        return copy
    }

    /// The schemes served, sorted.
    public var schemes: [String] { backends.keys.sorted() }

    /// The backend serving `scheme`, if any.
    public func backend(forScheme scheme: String) -> (any StoreBackend)? { backends[scheme] }

    /// The backend serving `url`'s scheme; throws `configuration` naming the known schemes when there is none. The
    /// message shows the URL's scheme only: a URL no backend parses may hold a password anywhere.
    public func backend(for url: String) throws(StoreError) -> any StoreBackend {
        let problem: String
        if let scheme = Self.scheme(of: url) {
            if let backend = backends[scheme] { return backend }
            problem = "no store serves the scheme \"\(scheme)\""
        } else {
            problem = url.isEmpty ? "no database URL was given" : "the database URL has no scheme"
        }
        let examples = Set(backends.values.map(\.exampleURL)).sorted()
        throw StoreError(
            .configuration,
            "unsupported database URL: \(problem) (known schemes: "
                + (schemes.isEmpty ? "none" : schemes.joined(separator: ", ")) + ")"
                + (examples.isEmpty ? "" : "; use \(examples.joined(separator: " or "))")
        )
    }

    /// `url` for messages, redacted by its backend's rule (by ``ConnectionStringRedaction`` when no backend serves
    /// it).
    public func redacted(_ url: String) -> String {
        guard let scheme = Self.scheme(of: url), let backend = backends[scheme] else {
            return ConnectionStringRedaction.redact(url)
        }
        return backend.redacted(url)
    }

    /// The scheme of `url` (RFC 3986: a letter, then letters, digits, `+`, `-` or `.`, before the first `:`), as
    /// written; nil when it has none.
    public static func scheme(of url: String) -> String? {
        guard let colon = url.firstIndex(of: ":") else { return nil }
        let scheme = url[..<colon]
        guard let first = scheme.unicodeScalars.first, first.isASCII, first.properties.isAlphabetic,
            scheme.unicodeScalars.allSatisfy({
                $0.isASCII
                    && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || "+-.".unicodeScalars.contains($0))
            })
        else { return nil }
        return String(scheme)
    }
}
