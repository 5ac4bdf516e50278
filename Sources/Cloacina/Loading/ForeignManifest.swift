internal import CloacinaJSON
internal import CloacinaModel
internal import CloacinaNative

/// A package made of an existing shared library with no Cloacina entry points, declared by a manifest beside it
/// (`NAME.workflow.json`): its name and version, the library (a file in the drop directory or a system soname),
/// and workflows whose tasks call the library's exported functions by symbol and C signature.
///
/// Read strictly: an unknown key, a value of the wrong type, a name outside the naming rule, a signature the parser
/// cannot read or a binding that does not fit it rejects the whole manifest, naming the place
/// (`workflows[0].tasks[1].arguments`). Reading it runs no code; opening the library and finding its symbols is the
/// loader's (``PackageLoader``).
struct ForeignManifest {
    /// What manifests are called: `NAME.workflow.json`.
    static let suffix = ".workflow.json"
    /// The only manifest format this host reads (`"cloacina_manifest": 1`).
    static let format = 1
    /// The largest manifest read, in bytes.
    static let maximumBytes = 1 << 20

    enum Library: Hashable {
        /// A file beside the manifest in the drop directory, by its name (`legacy.so`).
        case file(String)
        /// A library of the system, by its soname (`libz.so.1`), opened by the dynamic loader's search.
        case system(String)
    }

    struct Task {
        var workflow: String
        var definition: TaskDefinition
        var binding: NativeBinding
        var symbol: String
        /// The symbol of the `void f(void *)` that frees a string result.
        var free: String?
    }

    var name: String
    var version: String
    var library: Library
    /// Workflows in declaration order, with their descriptions.
    var workflows: [(name: String, description: String?)]
    /// Every task, in declaration order.
    var tasks: [Task]

    /// Reads a manifest; throws the reason, naming the place.
    init(bytes: [UInt8]) throws(ManifestError) {
        let root: JSONValue
        do {
            root = try JSONValue(parsing: bytes)
        } catch {
            throw ManifestError("the manifest is not JSON: \(error)")
        }
        var top = try ManifestFields(root, at: "the manifest")
        guard let format = try top.integer("cloacina_manifest") else {
            throw ManifestError("the manifest needs \"cloacina_manifest\": \(Self.format) (its format)")
        }
        guard format == Self.format else {
            throw ManifestError("manifest format \(format) is not supported; this host reads format \(Self.format)")
        }
        name = try top.name("name", as: "package name")
        let version = try top.requiredString("version")
        guard !version.isEmpty, version.utf8.count <= 128, !version.unicodeScalars.contains(where: { $0.value < 0x20 })
        else { throw ManifestError("\"version\" must be 1 to 128 bytes of printable UTF-8") }
        self.version = version
        _ = try top.string("description")
        switch (try top.string("library"), try top.string("system_library")) {
        case (let file?, nil):
            guard Self.isLibraryFileName(file) else {
                throw ManifestError(
                    "\"library\" must name a file beside the manifest, ending in .so, without '/' (not \"\(file)\")"
                )
            }
            library = .file(file)
        case (nil, let soname?):
            guard Self.isSoname(soname) else {
                throw ManifestError(
                    "\"system_library\" must be a soname such as libz.so.1 or libm.so.6, without '/' (not \"\(soname)\")"
                )
            }
            library = .system(soname)
        case (nil, nil):
            throw ManifestError("the manifest names no library: give \"library\" (a file) or \"system_library\"")
        case (_?, _?):
            throw ManifestError("give \"library\" or \"system_library\", not both")
        }
        let workflowValues = try top.requiredArray("workflows")
        guard !workflowValues.isEmpty else { throw ManifestError("\"workflows\" is empty") }
        try top.finish()

        workflows = []
        tasks = []
        for (index, value) in workflowValues.enumerated() {
            let place = "workflows[\(index)]"
            var fields = try ManifestFields(value, at: place)
            let workflow = try fields.name("name", as: "workflow name")
            guard !workflows.contains(where: { $0.name == workflow }) else {
                throw ManifestError("\(place): workflow \"\(workflow)\" is declared twice")
            }
            workflows.append((workflow, try fields.string("description")))
            let taskValues = try fields.requiredArray("tasks")
            guard !taskValues.isEmpty else { throw ManifestError("\(place).tasks is empty") }
            try fields.finish()
            for (position, task) in taskValues.enumerated() {
                tasks.append(try Self.task(task, of: workflow, at: "\(place).tasks[\(position)]"))
            }
        }
    }

    /// The library file a manifest names in the drop directory, read without judging the rest; nil when the bytes
    /// are no manifest or it names a system library. What a scan uses to tell a manifest's library from a package.
    static func libraryFile(in bytes: [UInt8]) -> String? {
        guard let file = (try? JSONValue(parsing: bytes))?["library"]?.stringValue, isLibraryFileName(file) else {
            return nil
        }
        return file
    }

    private static func task(_ value: JSONValue, of workflow: String, at place: String) throws(ManifestError) -> Task {
        var fields = try ManifestFields(value, at: place)
        let id = try fields.name("id", as: "task id")
        let symbol = try fields.requiredString("symbol")
        guard isSymbol(symbol) else { throw ManifestError("\(place).symbol \"\(symbol)\" is not a C identifier") }
        let signatureText = try fields.requiredString("signature")
        let argumentTexts = try fields.strings("arguments") ?? []
        let result = try fields.string("result")
        let failIfText = try fields.string("fail_if")
        let readsErrno = try fields.bool("errno") ?? false
        let retryable = try fields.bool("retryable") ?? false
        let free = try fields.string("free")
        if let free, !isSymbol(free) { throw ManifestError("\(place).free \"\(free)\" is not a C identifier") }
        let dependencies = try fields.strings("dependencies") ?? []
        let description = try fields.string("description")
        var retry = RetryPolicy.none
        var trigger: TriggerRule?
        var timeout: Duration?
        do throws(DefinitionError) {
            if let policy = fields.take("retry") { retry = try RetryPolicy(json: policy) }
            if let rule = fields.take("trigger_rule") { trigger = try TriggerRule(json: rule) }
            for dependency in dependencies { try NameRule.validate(dependency, as: "dependency") }
        } catch {
            throw ManifestError("\(place): \(error.message)")
        }
        if let milliseconds = try fields.integer("timeout_ms") {
            guard milliseconds > 0, milliseconds <= Int(PackageRegistrar.maximumTimeout.inMilliseconds) else {
                throw ManifestError("\(place).timeout_ms must be 1 ms to 7 days, not \(milliseconds)")
            }
            timeout = .milliseconds(milliseconds)
        }
        try fields.finish()
        let binding: NativeBinding
        do throws(NativeError) {
            binding = try NativeBinding(
                signature: try NativeSignature(parsing: signatureText),
                arguments: try argumentTexts.map { text throws(NativeError) in
                    try NativeBinding.Argument(parsing: text)
                },
                result: result,
                failIf: try failIfText.map { text throws(NativeError) in
                    try NativeBinding.FailureCondition(parsing: text)
                },
                readsErrno: readsErrno,
                retryable: retryable,
                freesResult: free != nil
            )
        } catch {
            throw ManifestError("\(place) (\(symbol)): \(error.message)")
        }
        let definition = TaskDefinition(
            id: id,
            dependencies: dependencies,
            retry: retry,
            timeout: timeout,
            trigger: trigger,
            description: description,
            native: binding.description(symbol: symbol)
        )
        return Task(workflow: workflow, definition: definition, binding: binding, symbol: symbol, free: free)
    }

    private static func isLibraryFileName(_ name: String) -> Bool {
        name.hasSuffix(".so") && name.count > 3 && !name.hasPrefix(".") && !name.contains("/") && NameRule.isValid(name)
    }

    private static func isSoname(_ name: String) -> Bool {
        name.hasPrefix("lib") && name.contains(".so") && !name.contains("/") && NameRule.isValid(name)
    }

    private static func isSymbol(_ name: String) -> Bool {
        guard let first = name.utf8.first, name.utf8.count <= 256 else { return false }
        func letter(_ byte: UInt8) -> Bool {
            (byte | 0x20) >= UInt8(ascii: "a") && (byte | 0x20) <= UInt8(ascii: "z") || byte == UInt8(ascii: "_")
        }
        return letter(first) && name.utf8.allSatisfy { letter($0) || ($0 >= 48 && $0 <= 57) }
    }
}

extension NativeBinding {
    /// The binding as a task definition shows it.
    func description(symbol: String?) -> NativeCallDescription {
        NativeCallDescription(
            signature: signature.description,
            arguments: arguments.map(\.description),
            result: result,
            symbol: symbol,
            failIf: failIf?.rawValue
        )
    }
}

/// Why a manifest cannot be read.
struct ManifestError: Error {
    var message: String
    init(_ message: String) { self.message = message }
}

/// The members of one JSON object of a manifest, taken one by one, so that what is left over is an unknown key.
private struct ManifestFields {
    private var members: [String: JSONValue]
    private let place: String

    init(_ value: JSONValue, at place: String) throws(ManifestError) {
        guard let members = value.objectValue else {
            throw ManifestError("\(place) must be a JSON object, not \(value.kindName)")
        }
        self.members = members
        self.place = place
    }

    mutating func take(_ key: String) -> JSONValue? {
        guard let value = members.removeValue(forKey: key), !value.isNull else { return nil }
        return value
    }

    mutating func string(_ key: String) throws(ManifestError) -> String? {
        guard let value = take(key) else { return nil }
        guard let text = value.stringValue else { throw wrong(key, "a string", value) }
        return text
    }

    mutating func requiredString(_ key: String) throws(ManifestError) -> String {
        guard let text = try string(key) else { throw ManifestError("\(place) needs a string \"\(key)\"") }
        return text
    }

    mutating func name(_ key: String, as what: String) throws(ManifestError) -> String {
        let text = try requiredString(key)
        do {
            try NameRule.validate(text, as: what)
        } catch {
            throw ManifestError("\(place).\(key): \(error.message)")
        }
        return text
    }

    mutating func integer(_ key: String) throws(ManifestError) -> Int? {
        guard let value = take(key) else { return nil }
        guard case .int(let integer) = value else { throw wrong(key, "an integer", value) }
        return integer
    }

    mutating func bool(_ key: String) throws(ManifestError) -> Bool? {
        guard let value = take(key) else { return nil }
        guard let flag = value.boolValue else { throw wrong(key, "true or false", value) }
        return flag
    }

    mutating func requiredArray(_ key: String) throws(ManifestError) -> [JSONValue] {
        guard let value = take(key) else { throw ManifestError("\(place) needs an array \"\(key)\"") }
        guard let elements = value.arrayValue else { throw wrong(key, "an array", value) }
        return elements
    }

    mutating func strings(_ key: String) throws(ManifestError) -> [String]? {
        guard let value = take(key) else { return nil }
        guard let elements = value.arrayValue else { throw wrong(key, "an array of strings", value) }
        var texts: [String] = []
        for element in elements {
            guard let text = element.stringValue else { throw wrong(key, "an array of strings", value) }
            texts.append(text)
        }
        return texts
    }

    /// Throws when a key was not taken: an unknown key (a typo would otherwise be ignored).
    func finish() throws(ManifestError) {
        guard let unknown = members.keys.sorted().first else { return }
        throw ManifestError("\(place) has an unknown key \"\(unknown)\"")
    }

    private func wrong(_ key: String, _ expected: String, _ value: JSONValue) -> ManifestError {
        ManifestError("\(place).\(key) must be \(expected), not \(value.kindName)")
    }
}
