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
/// files ``filesToLoad(_:)`` names, and hands the outcomes to ``next(_:loads:pending:reserved:)``, which decides: a
/// changed file that loaded serves its new package; a file that fails to load keeps serving its previous version,
/// with the error kept until its content changes again; a file still loading (pending) keeps serving its previous
/// version, if any, and is asked for again by the next scan; a removed file serves nothing.
///
/// Names are claimed by one rule, the same as `cloacina workflows list` and `check` (``PackageCatalog``): packages
/// compiled into the host first, then files in name order, the first claim winning. A workflow name belongs to one
/// package and a package name to one content; a later file that claims a taken name is reported as a conflict
/// (serving its previous version if that one fits), and identical content in a later file is a duplicate, served
/// once. The rule depends only on the files present, so a reload decides as a restart would. Generic over the
/// package so it can be tested without `dlopen`.
public struct PackageGeneration<Package: GenerationPackage>: Sendable {
    /// One file of the drop directory.
    public struct Slot: Sendable {
        public var path: String
        /// The package this file serves, if any.
        public var serving: Package?
        /// The newest version of this file that loaded (served, or kept out by a conflict or as a duplicate).
        public var newest: Package?
        /// The SHA-256 of the file's content that failed to load (nil when it could not be read), and why, while
        /// the file holds that content.
        public var failure: (sha256: String?, error: String)?
        /// Why ``newest`` is not served: another file or the host claims one of its names.
        public var conflict: String?
        /// The file's current content is still loading (a slow load goes on after the reload).
        public var pending = false

        /// Why the file's current content is not served, if it is not (and it is no duplicate).
        public var error: String? { failure?.error ?? conflict }

        /// The hash of the content the host last looked at for this file.
        var lastSeen: String? {
            if let failure { return failure.sha256 }
            return newest?.contentSHA256
        }
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

    /// The generation after a scan and the loads it asked for. `pending` are files asked for whose load has not
    /// finished. `reserved` are package names held by packages outside the directory (compiled into the host) with
    /// the workflow names they claim.
    public func next(
        _ scan: [String: Result<String, ReloadFailure>],
        loads: [String: Result<Package, ReloadFailure>],
        pending: Set<String> = [],
        reserved: [(name: String, workflows: [String])] = []
    ) -> (PackageGeneration, ReloadSummary) {
        var next = PackageGeneration()
        next.number = number + 1
        var summary = ReloadSummary(generation: next.number)
        summary.removed = slots.keys.filter { scan[$0] == nil }.sorted()

        var claims = NameClaims<Package>()
        for holder in reserved { claims.reserve(holder.name, workflows: holder.workflows) }

        let changed = Set(filesToLoad(scan))
        for path in scan.keys.sorted() {
            var slot = slots[path] ?? Slot(path: path)
            let before = (serving: slot.serving, conflict: slot.conflict)
            var loaded = false
            var failed = true
            slot.pending = false
            switch scan[path] {
            case .failure(let error)?:
                slot.failure = (nil, "cannot read: \(error.message)")
                summary.failed.append((path, slot.failure!.error))
            case .success? where changed.contains(path) && pending.contains(path):
                // Still loading: what served before serves on, and the next scan asks for the file again (the error
                // of older content no longer applies).
                slot.pending = true
                slot.failure = nil
                failed = false
                summary.pending.append(path)
            case .success(let sha256)? where changed.contains(path):
                switch loads[path] ?? .failure(ReloadFailure("not loaded")) {
                case .success(let package):
                    slot.newest = package
                    slot.failure = nil
                    loaded = true
                    failed = false
                case .failure(let error):
                    slot.failure = (sha256, error.message)
                    summary.failed.append((path, error.message))
                }
            default:
                failed = false
            }
            // The newest version if it fits, else the one served before (a conflict keeps that one serving).
            slot.serving = nil
            slot.conflict = nil
            var duplicate = false
            candidates: for candidate in [slot.newest, before.serving].compactMap({ $0 }) {
                switch claims.place(candidate, from: path) {
                case .serve:
                    slot.serving = candidate
                    break candidates
                case .duplicate:
                    duplicate = true
                    break candidates
                case .clash(let problem):
                    if candidate.contentSHA256 == slot.newest?.contentSHA256 { slot.conflict = problem }
                }
            }
            if failed || slot.pending {
                // Already reported.
            } else if let conflict = slot.conflict, loaded || conflict != before.conflict {
                summary.failed.append((path, conflict))
            } else if loaded {
                if duplicate { summary.duplicates.append(path) } else { summary.loaded.append(path) }
            } else {
                summary.unchanged.append(path)
            }
            next.slots[path] = slot
        }
        summary.failed.sort { $0.path < $1.path }
        return (next, summary)
    }
}

/// Which package holds each package name and workflow name while a generation is decided.
private struct NameClaims<Package: GenerationPackage> {
    /// Package name → its content's SHA-256 ("" when the host holds it) and where it comes from.
    private var packages: [String: (sha256: String, source: String)] = [:]
    /// Workflow name → the package and source that provide it.
    private var workflows: [String: (package: String, source: String)] = [:]

    mutating func reserve(_ name: String, workflows names: [String]) {
        packages[name] = ("", "the host")
        for workflow in names { workflows[workflow] = (name, "the host") }
    }

    /// Whether `package` (from `path`) can serve beside what is already placed; claims its names when it can.
    mutating func place(_ package: Package, from path: String) -> Placement {
        if let owner = packages[package.packageName] {
            return owner.sha256 == package.contentSHA256
                ? .duplicate
                : .clash("package \"\(package.packageName)\" is already served from \(owner.source)")
        }
        for workflow in package.workflowNames {
            if let owner = workflows[workflow] {
                return .clash(
                    "workflow \"\(workflow)\" is already provided by package \"\(owner.package)\" (\(owner.source))"
                )
            }
        }
        packages[package.packageName] = (package.contentSHA256, path)
        for workflow in package.workflowNames { workflows[workflow] = (package.packageName, path) }
        return .serve
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
    /// Files that failed (unreadable, rejected by the loader, newly in conflict); each keeps serving its previous
    /// version if it has one that fits.
    public var failed: [(path: String, error: String)] = []
    /// Files that disappeared: their workflows take no new executions.
    public var removed: [String] = []
    /// Loaded files whose content another file already serves.
    public var duplicates: [String] = []
    /// Files whose new content is still loading; each keeps serving its previous version if it has one, and is
    /// served once it loads (a later reload).
    public var pending: [String] = []

    public init(generation: Int) {
        self.generation = generation
    }
}
