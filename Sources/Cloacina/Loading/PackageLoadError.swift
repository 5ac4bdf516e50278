/// Why a package file was rejected: the stage of loading that failed and the reason.
///
/// Its ``description`` reads "stage: reason"; reports add the file. Compare errors by ``stage``; stages may be added.
public struct PackageLoadError: Error, Sendable, Hashable, CustomStringConvertible {
    /// A step of loading a package, in the order they run.
    public struct Stage: Sendable, Hashable, CustomStringConvertible {
        fileprivate enum Value: String, Sendable, Hashable {
            case read, manifest, elf, symbols, toolchain, hash, cache, dlopen, info
            case initialization = "init"
            case validation = "validate"
            case conflict, isolation
        }

        fileprivate let value: Value

        /// Reading the file.
        public static let read = Stage(value: .read)
        /// Reading a foreign library's manifest: its fields, signatures and bindings.
        public static let manifest = Stage(value: .manifest)
        /// Checking it is a complete shared object for this machine.
        public static let elf = Stage(value: .elf)
        /// Checking it exports the two entry points.
        public static let symbols = Stage(value: .symbols)
        /// Checking a Swift package was built by the host's toolchain.
        public static let toolchain = Stage(value: .toolchain)
        /// Copying it into the content-addressed cache.
        public static let cache = Stage(value: .cache)
        /// `dlopen`.
        public static let dlopen = Stage(value: .dlopen)
        /// Reading and checking `cloacina_package_info`.
        public static let info = Stage(value: .info)
        /// Running `cloacina_package_init` and its registrations.
        public static let initialization = Stage(value: .initialization)
        /// Validating the registered workflows.
        public static let validation = Stage(value: .validation)
        /// Comparing with the packages already loaded (same workflow name, same package name).
        public static let conflict = Stage(value: .conflict)
        /// Loading in a separate process, which ended abnormally.
        public static let isolation = Stage(value: .isolation)

        /// The stage's name as it appears in messages and JSON ("elf", "init", ...).
        public var name: String { value.rawValue }

        /// The stage with the given ``name``.
        public init?(name: String) {
            guard let value = Value(rawValue: name) else { return nil }
            self.value = value
        }

        private init(value: Value) {
            self.value = value
        }

        public var description: String { name }
    }

    /// The stage that failed.
    public let stage: Stage
    /// What was wrong.
    public let reason: String

    public init(_ stage: Stage, _ reason: String) {
        self.stage = stage
        self.reason = reason
    }

    public var description: String { "\(stage.name): \(reason)" }
}
