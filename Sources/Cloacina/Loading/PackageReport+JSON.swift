public import CloacinaJSON

extension PackageReport {
    /// The report as JSON, the shape `cloacina check --output json` prints:
    /// `{file, status, stage, error, duplicate_of, package: {name, version, sha256, abi, toolchain, language,
    /// library}, workflows}`. Fields not known for a rejected file are null; `language` is `foreign` (and `library`
    /// names the library) for a package declared by a manifest.
    public var json: JSONValue {
        [
            "file": .string(file),
            "status": isLoaded ? "loaded" : "rejected",
            "stage": error.map { .string($0.stage.name) } ?? .null,
            "error": error.map { .string($0.description) } ?? .null,
            "duplicate_of": duplicateOf.map(JSONValue.string) ?? .null,
            "package": [
                "name": info.map { .string($0.name) } ?? .null,
                "version": info.map { .string($0.version) } ?? .null,
                "sha256": sha256.map(JSONValue.string) ?? .null,
                "abi": info.map { .string($0.abi) } ?? .null,
                "toolchain": info?.toolchain.map(JSONValue.string) ?? .null,
                "language": info.map { .string($0.library != nil ? "foreign" : $0.isSwift ? "swift" : "c") } ?? .null,
                "library": info?.library.map(JSONValue.string) ?? .null,
            ],
            "workflows": .array(workflows.map(\.json)),
        ]
    }

    /// Reads the form written by ``json``; nil when `json` is not a report.
    public init?(json: JSONValue) {
        guard let file = json["file"]?.stringValue, let status = json["status"]?.stringValue,
            let package = json["package"]
        else { return nil }
        self.init(file: file)
        sha256 = package["sha256"]?.stringValue
        duplicateOf = json["duplicate_of"]?.stringValue
        if let name = package["name"]?.stringValue, let version = package["version"]?.stringValue,
            let abi = package["abi"]?.stringValue?.split(separator: "."), abi.count == 2,
            let major = Int(abi[0]), let minor = Int(abi[1])
        {
            info = PackageInfo(
                name: name,
                version: version,
                abiMajor: major,
                abiMinor: minor,
                toolchain: package["toolchain"]?.stringValue,
                isSwift: package["language"]?.stringValue == "swift",
                library: package["library"]?.stringValue
            )
        }
        if status != "loaded" {
            let stage = json["stage"]?.stringValue.flatMap(PackageLoadError.Stage.init(name:)) ?? .isolation
            let text = json["error"]?.stringValue ?? "rejected"
            let prefix = "\(stage.name): "
            error = PackageLoadError(stage, text.hasPrefix(prefix) ? String(text.dropFirst(prefix.count)) : text)
            return
        }
        var definitions: [WorkflowDefinition] = []
        for workflow in json["workflows"]?.arrayValue ?? [] {
            guard let definition = try? WorkflowDefinition(json: workflow) else { return nil }
            definitions.append(definition)
        }
        workflows = definitions
    }
}
