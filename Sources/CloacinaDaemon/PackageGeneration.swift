/// What a host needs to know about a package to decide a generation: its identity and the names it claims.
public protocol GenerationPackage: Sendable {
    var packageName: String { get }
    var packageVersion: String { get }
    var contentSHA256: String { get }
    var workflowNames: [String] { get }
}

/// What a host serves from its drop directory at one moment, and how the next generation follows from a scan.
///
/// A pure value: no files, no loading, no clock. The shell scans the directory (path → SHA-256), loads only the
/// files ``filesToLoad(_:)`` names, and hands the outcomes to ``next(_:loads:reserved:)``, which decides:
/// unchanged files keep their package; a changed file that loaded (and clashes with nothing) serves its new
/// package; a file that fails keeps serving its previous version, with the error kept until its content changes
/// again; a removed file serves nothing. Generic over the package so it can be tested without `dlopen`.
public struct PackageGeneration<Package: GenerationPackage>: Sendable {
    /// One file of the drop directory.
    public struct Slot: Sendable {
        public var path: String
        /// The package this file serves, if any (the newest version that loaded).
        public var serving: Package?
        /// The SHA-256 of the file's content that failed, and why, while the file holds that content.
        public var failure: (sha256: String?, error: String)?

        /// The hash of the content the host last looked at for this file.
        var lastSeen: String? { failure.map(\.sha256) ?? serving.map(\.contentSHA256) }
    }

    /// Counts up from 0 (the empty generation before the first scan).
    public private(set) var number: Int = 0
    /// By path, for every file seen in the last scan.
    public private(set) var slots: [String: Slot] = [:]

    public init() {}

    /// The packages to make current, in path order.
    public var servingPackages: [Package] {
        slots.keys.sorted().compactMap { slots[$0]?.serving }
    }

    /// The files of `scan` whose content differs from what was last seen for them.
    public func filesToLoad(_ scan: [String: Result<String, ReloadFailure>]) -> [String] {
        scan.keys.sorted().filter { path in
            guard case .success(let sha256) = scan[path] else { return false }
            return slots[path]?.lastSeen != sha256
        }
    }

    /// The generation after a scan and the loads it asked for. `reserved` are package names held by packages
    /// outside the directory (compiled into the host) with the workflow names they claim.
    public func next(
        _ scan: [String: Result<String, ReloadFailure>],
        loads: [String: Result<Package, ReloadFailure>],
        reserved: [(name: String, workflows: [String])] = []
    ) -> (PackageGeneration, ReloadSummary) {
        var next = PackageGeneration()
        next.number = number + 1
        var summary = ReloadSummary(generation: next.number)
        summary.removed = slots.keys.filter { scan[$0] == nil }.sorted()

        var names: [String: String] = [:]  // package name → SHA-256 (or "" when reserved)
        var workflows: [String: String] = [:]  // workflow name → package name
        for holder in reserved {
            names[holder.name] = ""
            for workflow in holder.workflows { workflows[workflow] = holder.name }
        }
        /// Whether `package` can serve beside what is already placed; claims its names when it can.
        func place(_ package: Package) -> Placement {
            if let sha = names[package.packageName] {
                return sha == package.contentSHA256
                    ? .duplicate
                    : .clash("package \"\(package.packageName)\" is already served from another file or the host")
            }
            for workflow in package.workflowNames {
                if let owner = workflows[workflow] {
                    return .clash("workflow \"\(workflow)\" is already provided by package \"\(owner)\"")
                }
            }
            names[package.packageName] = package.contentSHA256
            for workflow in package.workflowNames { workflows[workflow] = package.packageName }
            return .serve
        }

        // Files whose content did not change keep what they serve, and claim their names first.
        let paths = scan.keys.sorted()
        let changed = Set(filesToLoad(scan))
        for path in paths where !changed.contains(path) {
            var slot = slots[path] ?? Slot(path: path)
            if case .failure(let error) = scan[path] {
                slot.failure = (nil, "cannot read: \(error.message)")
                summary.failed.append((path, slot.failure!.error))
            } else {
                summary.unchanged.append(path)
            }
            if let serving = slot.serving, place(serving) != .serve { slot.serving = nil }
            next.slots[path] = slot
        }
        // Changed files in path order: the new package if it loaded and clashes with nothing, else the old one.
        for path in paths where changed.contains(path) {
            guard case .success(let sha256) = scan[path] else { continue }
            var slot = slots[path] ?? Slot(path: path)
            let previous = slot.serving
            slot.serving = nil
            switch loads[path] ?? .failure(ReloadFailure("not loaded")) {
            case .success(let package):
                switch place(package) {
                case .serve:
                    slot.serving = package
                    slot.failure = nil
                    summary.loaded.append(path)
                case .duplicate:
                    slot.failure = nil
                    summary.duplicates.append(path)
                case .clash(let problem):
                    slot.failure = (sha256, problem)
                    summary.failed.append((path, problem))
                }
            case .failure(let error):
                slot.failure = (sha256, error.message)
                summary.failed.append((path, error.message))
            }
            if slot.failure != nil, let previous, place(previous) == .serve { slot.serving = previous }
            next.slots[path] = slot
        }
        summary.failed.sort { $0.path < $1.path }
        return (next, summary)
    }
}

/// Why a file could not be read or loaded, as the report shows it.
public struct ReloadFailure: Error, Sendable, Hashable, CustomStringConvertible {
    public var message: String

    public init(_ message: String) {
        self.message = message
    }

    public var description: String { message }
}

/// Where a package goes in a generation.
enum Placement: Equatable {
    case serve
    /// The same content is already served from another file.
    case duplicate
    case clash(String)
}

/// What one reload did, by file path.
public struct ReloadSummary: Sendable {
    public var generation: Int
    /// Files whose new content now serves.
    public var loaded: [String] = []
    /// Files whose content had not changed.
    public var unchanged: [String] = []
    /// Files that failed (unreadable, rejected by the loader, clashing); each keeps serving its previous version.
    public var failed: [(path: String, error: String)] = []
    /// Files that disappeared: their workflows take no new executions.
    public var removed: [String] = []
    /// Loaded files whose content another file already serves.
    public var duplicates: [String] = []

    public init(generation: Int) {
        self.generation = generation
    }
}
