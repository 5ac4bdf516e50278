public import Logging

#if canImport(Glibc)
internal import Glibc
#endif

extension PackageProbe {
    /// The child's side of ``PackageProbe``: finds the private channel, then loads each file the parent sends with
    /// an ordinary ``PackageLoader`` (its copies in a directory of its own under the cache directory the parent
    /// names, removed at the end, as are copies that crashed processes left behind), reports each stage, and answers
    /// the challenge after the load with the report. Returns the process's exit status: 0 when told to exit.
    ///
    /// Nothing is written to standard output. This is the first phase of a worker process too: a worker loads its
    /// package the same way before it takes task calls, so up to its first report a loading process and a worker
    /// look the same to the package.
    /// The exit status of a loading process that found no channel to its parent (it loaded nothing).
    static let noChannelStatus: Int32 = 2

    public static func runLoadingProcess(logger: Logger) -> Int32 {
        guard let channel = ProbeChannel.findInChild() else {
            PackageProbe.forward(Array("cloacina worker: started without its channel; it is run by the host\n".utf8))
            return noChannelStatus
        }
        var session: (loader: PackageLoader, directory: String)?
        defer { if let session { removeFlatDirectory(session.directory) } }
        while let frame = channel.receive() {
            switch frame.kind {
            case .load?:
                guard let request = try? JSONValue(parsing: frame.payload), let file = request["file"]?.stringValue,
                    let cache = request["cache"]?.stringValue
                else { return 3 }
                if session == nil { session = startSession(cache: cache, logger: logger) }
                let report = session!.loader.load(file: file) { stage in
                    channel.send(.stage, Array(stage.name.utf8))
                }
                channel.send(.loaded)
                guard let challenge = channel.receive(), challenge.kind == .challenge else { return 3 }
                let bytes = Array(report.json.serializedString().utf8)
                var offset = 0
                while offset < bytes.count {
                    let end = min(offset + ProbeChannel.maximumFrame - 1, bytes.count)
                    guard channel.send(.report, Array(bytes[offset..<end])) else { return 3 }
                    offset = end
                }
                guard channel.send(.reportEnd, Array(SHA256.hex(challenge.payload + bytes).utf8)) else { return 3 }
            case .exit?:
                return 0
            default:
                return 3
            }
        }
        return 1
    }

    /// The loader of this process, its copies in `cache/run-<pid>`; removes what dead processes left there.
    private static func startSession(cache: String, logger: Logger) -> (loader: PackageLoader, directory: String) {
        let own = "\(cache)/run-\(getpid())"
        for name in (try? FileSystem.listDirectory(cache)) ?? [] where name.hasPrefix("run-") {
            guard let pid = Int32(name.dropFirst(4)), pid != getpid(), kill(pid, 0) != 0, errno == ESRCH else {
                continue
            }
            removeFlatDirectory("\(cache)/\(name)")
        }
        return (PackageLoader(cacheDirectory: own, durableCache: false, logger: logger), own)
    }
}
