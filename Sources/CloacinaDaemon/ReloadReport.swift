public import Cloacina

/// What a reload did, and what each file of the drop directory serves after it: what `POST /admin/reload` and
/// `cloacina reload` report.
public struct ReloadReport: Sendable {
    /// One file of the drop directory after the reload.
    public struct FileState: Sendable {
        public var file: String
        /// The package the file serves (its newest version that loaded), if any.
        public var serving: PackageReference?
        public var workflows: [String]
        /// Why the file's current content is not served, if it is not.
        public var error: String?
        /// The file's current content is still loading (what it served before, if anything, serves meanwhile).
        public var pending: Bool
    }

    public var generation: Int
    public var loaded: [String]
    public var unchanged: [String]
    public var failed: [(file: String, error: String)]
    public var removed: [String]
    public var duplicates: [String]
    /// Files still loading when the reload published its generation; a later reload serves them.
    public var pending: [String]
    public var files: [FileState]
    /// Set when the reload could not run at all (the directory is unreadable, the host is shutting down), or when
    /// the caller stopped waiting for it (its report then shows the generation before it).
    public var error: String?
    public var duration: Duration = .zero

    init(generation: PackageGeneration<LoadedPackage>, summary: ReloadSummary) {
        self.generation = generation.number
        self.loaded = summary.loaded
        self.unchanged = summary.unchanged
        self.failed = summary.failed.map { (file: $0.path, error: $0.error) }
        self.removed = summary.removed
        self.duplicates = summary.duplicates
        self.pending = summary.pending
        self.files = generation.slots.keys.sorted().compactMap { path in
            guard let slot = generation.slots[path] else { return nil }
            return FileState(
                file: path,
                serving: slot.serving?.reference,
                workflows: slot.serving?.workflowNames ?? [],
                error: slot.error,
                pending: slot.pending
            )
        }
    }

    /// `{generation, duration_ms, loaded, unchanged, failed: [{file, error}], removed, duplicates, pending, files,
    /// error}`.
    public var json: JSONValue {
        [
            "generation": .int(generation),
            "duration_ms": .double(
                Double(duration.components.seconds) * 1000 + Double(duration.components.attoseconds) / 1e15
            ),
            "loaded": .array(loaded.map(JSONValue.string)),
            "unchanged": .array(unchanged.map(JSONValue.string)),
            "failed": .array(failed.map { ["file": .string($0.file), "error": .string($0.error)] }),
            "removed": .array(removed.map(JSONValue.string)),
            "duplicates": .array(duplicates.map(JSONValue.string)),
            "pending": .array(pending.map(JSONValue.string)),
            "files": .array(files.map(\.json)),
            "error": error.map(JSONValue.string) ?? .null,
        ]
    }
}

extension ReloadReport.FileState {
    /// `{file, status: "serving"|"failed"|"pending"|"idle", package: {name, version, sha256} | null, workflows,
    /// error}`; a failed or pending file may still serve its previous version.
    public var json: JSONValue {
        [
            "file": .string(file),
            "status": .string(error != nil ? "failed" : pending ? "pending" : serving != nil ? "serving" : "idle"),
            "package": serving.map {
                [
                    "name": .string($0.name), "version": .string($0.version),
                    "sha256": $0.sha256.map(JSONValue.string) ?? .null,
                ]
            } ?? .null,
            "workflows": .array(workflows.map(JSONValue.string)),
            "error": error.map(JSONValue.string) ?? .null,
        ]
    }
}
