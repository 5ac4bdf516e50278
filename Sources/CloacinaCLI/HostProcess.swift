#if canImport(Glibc)
import Glibc
#endif

/// What `/proc` tells about a running process that claims to be a host: its arguments and, resolved against its
/// working directory and environment, the data directory it serves.
struct HostProcess {
    let pid: pid_t
    /// The process's arguments (`/proc/PID/cmdline`), empty when they cannot be read.
    let arguments: [String]

    init(pid: pid_t) {
        self.pid = pid
        arguments = Self.file("/proc/\(pid)/cmdline").split(separator: 0, omittingEmptySubsequences: false)
            .dropLast().map { String(decoding: $0, as: UTF8.self) }
    }

    /// Whether it runs `cloacina serve`: its first argument is `serve` (the executable may be installed anywhere).
    var isServe: Bool { arguments.count > 1 && arguments[1] == "serve" }

    /// The real path of the data directory it serves: `--data-dir`, else its `CLOACINA_DATA_DIR`, else
    /// `.cloacina/data`, relative to its working directory. Nil when it cannot be found out.
    var dataDirectory: String? {
        var directory: String?
        for (index, argument) in arguments.enumerated().dropFirst(2) {
            if argument == "--data-dir", index + 1 < arguments.count { directory = arguments[index + 1] }
            if argument.hasPrefix("--data-dir=") { directory = String(argument.dropFirst("--data-dir=".count)) }
        }
        if directory == nil {
            let environment = Self.file("/proc/\(pid)/environ").split(separator: 0).map {
                String(decoding: $0, as: UTF8.self)
            }
            directory =
                environment.first { $0.hasPrefix("CLOACINA_DATA_DIR=") && $0.count > "CLOACINA_DATA_DIR=".count }
                .map { String($0.dropFirst("CLOACINA_DATA_DIR=".count)) } ?? ".cloacina/data"
        }
        return Self.resolved(directory!, from: "/proc/\(pid)/cwd")
    }

    /// The real path of `path`, taken relative to `base` (a directory, or nil for this process's own).
    static func resolved(_ path: String, from base: String?) -> String? {
        let full = path.hasPrefix("/") || base == nil ? path : "\(base!)/\(path)"
        guard let real = realpath(full, nil) else { return nil }
        defer { free(real) }
        return String(cString: real)
    }

    /// The bytes of a small `/proc` file, empty when it cannot be read.
    private static func file(_ path: String) -> [UInt8] {
        (try? InputFile.read(path, what: "process file")) ?? []
    }
}
