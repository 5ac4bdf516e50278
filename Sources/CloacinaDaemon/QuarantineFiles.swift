public import Cloacina

/// The quarantined package versions of a host, one file per version (`<directory>/<sha256>.json`), so a quarantine
/// outlives a restart and the operator can end one while no host runs (`cloacina workflows unquarantine`).
///
/// The host writes a file when it quarantines a version and removes it when the version stops being served; the
/// operator removes files to release versions, and the host rereads the directory on every reload. A file that does
/// not parse, or whose name is not the digest it holds, is ignored (and reported), never trusted.
public struct QuarantineFiles: Sendable {
    public let directory: String

    public init(directory: String) {
        self.directory = directory
    }

    /// The quarantine files of a host's data directory: `<dataDirectory>/quarantine`, the one place that rule is.
    public init(dataDirectory: String) {
        self.init(directory: "\(dataDirectory)/quarantine")
    }

    /// The entries on disk, and a message for each file that was ignored.
    public func load() -> (entries: [QuarantineEntry], ignored: [String]) {
        guard FileSystem.exists(directory) else { return ([], []) }
        let names: [String]
        do {
            names = try FileSystem.listDirectory(directory)
        } catch {
            return ([], ["\(error)"])
        }
        var entries: [QuarantineEntry] = []
        var ignored: [String] = []
        for name in names where name.hasSuffix(".json") {
            let path = "\(directory)/\(name)"
            let sha256 = String(name.dropLast(".json".count))
            guard SHA256.isDigest(sha256), let bytes = try? FileSystem.readFile(path, limit: 1 << 16),
                let value = try? JSONValue(parsing: bytes), let entry = QuarantineEntry(json: value),
                entry.sha256 == sha256
            else {
                ignored.append("\(path): not a quarantine entry; ignored")
                continue
            }
            entries.append(entry)
        }
        return (entries, ignored)
    }

    /// Records `entry` (durably, atomically).
    public func write(_ entry: QuarantineEntry) throws(CloacinaError) {
        do {
            try FileSystem.makeDirectory(directory, mode: 0o700, private: true)
            try FileSystem.writeAtomically(
                Array(entry.json.serializedString(pretty: true).utf8),
                to: path(entry.sha256),
                mode: 0o600
            )
        } catch {
            throw CloacinaError(.storage, "cannot record the quarantine of \(entry.package) \(entry.version): \(error)")
        }
    }

    /// Removes the entry of `sha256`; false when there was none.
    @discardableResult
    public func remove(_ sha256: String) throws(CloacinaError) -> Bool {
        guard SHA256.isDigest(sha256) else { return false }
        do {
            return try FileSystem.removeFile(path(sha256))
        } catch {
            throw CloacinaError(.storage, "cannot end the quarantine of \(sha256): \(error)")
        }
    }

    private func path(_ sha256: String) -> String { "\(directory)/\(sha256).json" }
}

extension QuarantineEntry {
    /// `{package, version, sha256, crashes, window_seconds, since_ms, last_cause, reason}`.
    public var json: JSONValue {
        [
            "package": .string(package), "version": .string(version), "sha256": .string(sha256),
            "crashes": .int(crashes), "window_seconds": .double(Double(window.inMilliseconds) / 1000),
            "since_ms": .int(Int(since.milliseconds)), "last_cause": .string(lastCause), "reason": .string(reason),
        ]
    }

    /// An entry from ``json``; nil when a field is missing or out of range.
    init?(json: JSONValue) {
        guard let package = json["package"]?.stringValue, let version = json["version"]?.stringValue,
            let sha256 = json["sha256"]?.stringValue, let crashes = json["crashes"]?.intValue, crashes > 0,
            let window = json["window_seconds"]?.doubleValue, window > 0, window < 1e9,
            let since = json["since_ms"]?.intValue, let cause = json["last_cause"]?.stringValue
        else { return nil }
        self.init(
            package: package,
            version: version,
            sha256: sha256,
            crashes: crashes,
            window: .milliseconds(Int64(window * 1000)),
            since: Timestamp(milliseconds: Int64(since)),
            lastCause: cause
        )
    }
}
