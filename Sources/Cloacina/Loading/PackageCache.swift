/// A directory of package images named by their SHA-256, from which the host opens packages.
///
/// `dlopen` caches by path, so a rebuilt package must be opened from a new path to load new code; naming copies
/// by content gives every version its own path and lets a restarted host reopen the exact version an execution was
/// pinned to. The directory must belong to the host's user and not be writable by others, because whatever is in
/// it gets executed. Entries are never deleted by the cache itself.
struct PackageCache: Sendable {
    let directory: String
    /// When copies are forced to disk.
    enum Durability: Sendable {
        /// Before each copy is used.
        case immediate
        /// When the owner calls ``sync(_:)`` (before anything depends on the copies), so many copies share the cost.
        case deferred
        /// Never: a throwaway cache.
        case none
    }

    let durable: Durability

    init(directory: String, durable: Durability = .immediate) {
        self.directory = FileSystem.absolute(directory)
        self.durable = durable
    }

    /// The cache directory holding the image (or foreign library manifest) at `path`, a path this cache returned:
    /// an image lies directly in it, a manifest in its `<sha256>/` slot.
    static func directory(holding path: String) -> String {
        func parent(_ path: String) -> String { String(path[..<(path.lastIndex(of: "/") ?? path.endIndex)]) }
        return ForeignFiles.isManifest(path) ? parent(parent(path)) : parent(path)
    }

    /// The path of the image with digest `sha256`.
    func path(for sha256: String) -> String {
        "\(directory)/\(sha256).so"
    }

    /// Stores `bytes` (whose digest is `sha256`) unless an intact copy is already there; returns its path.
    func install(_ bytes: [UInt8], sha256: String) throws(PackageLoadError) -> String {
        do {
            try FileSystem.makeDirectory(directory, mode: 0o700, private: true)
        } catch {
            throw PackageLoadError(.cache, "cache directory: \(error)")
        }
        let path = path(for: sha256)
        if FileSystem.exists(path), let existing = try? FileSystem.readFile(path), SHA256.hex(existing) == sha256 {
            return path
        }
        do {
            try FileSystem.writeAtomically(bytes, to: path, mode: 0o500, sync: durable == .immediate)
        } catch {
            throw PackageLoadError(.cache, "\(error)")
        }
        return path
    }

    /// Where a package of several files lies (a foreign library's manifest and library), and its files.
    struct Slot {
        var directory: String
        var paths: [String]
    }

    /// Stores `files` (names and bytes; their identity together is `sha256`) in the directory `<cache>/<sha256>`
    /// under their own names, unless intact copies are already there; returns the directory and the paths.
    func install(_ files: [(name: String, bytes: [UInt8])], sha256: String) throws(PackageLoadError) -> Slot {
        let slot = "\(directory)/\(sha256)"
        do {
            try FileSystem.makeDirectory(directory, mode: 0o700, private: true)
            try FileSystem.makeDirectory(slot, mode: 0o700, private: true)
        } catch {
            throw PackageLoadError(.cache, "cache directory: \(error)")
        }
        var paths: [String] = []
        for file in files {
            let path = "\(slot)/\(file.name)"
            paths.append(path)
            if FileSystem.exists(path), let existing = try? FileSystem.readFile(path), existing == file.bytes {
                continue
            }
            do {
                try FileSystem.writeAtomically(file.bytes, to: path, mode: 0o500, sync: durable == .immediate)
            } catch {
                throw PackageLoadError(.cache, "\(error)")
            }
        }
        if durable == .immediate {
            do {
                try FileSystem.sync(slot)
            } catch {
                throw PackageLoadError(.cache, "\(error)")
            }
        }
        return Slot(directory: slot, paths: paths + [slot])
    }

    /// Forces `paths` (copies made with deferred durability) and the directory entry to disk.
    func sync(_ paths: [String]) throws(PackageLoadError) {
        do {
            for path in paths { try FileSystem.sync(path) }
            if !paths.isEmpty { try FileSystem.sync(directory) }
        } catch {
            throw PackageLoadError(.cache, "\(error)")
        }
    }
}
