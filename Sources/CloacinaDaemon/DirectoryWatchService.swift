internal import Cloacina
public import ServiceLifecycle

#if canImport(Glibc)
internal import Glibc
#endif

/// Reloads the daemon when files appear in, change in, or leave its drop directory (inotify), after the directory
/// has been quiet for a moment, so a burst of changes is one reload.
///
/// Only finished writes count (close after writing, rename into, delete, rename out of): a package being copied
/// in place is not loaded half-written. Optional: SIGHUP, `cloacina reload` and the HTTP API do the same.
public struct DirectoryWatchService: Service {
    public let daemon: Daemon
    /// How long the directory must be quiet before reloading.
    public let quiet: Duration

    public init(daemon: Daemon, quiet: Duration = .milliseconds(100)) {
        self.daemon = daemon
        self.quiet = quiet
    }

    public func run() async throws {
        let directory = daemon.configuration.workflowsDirectory
        let watch = inotify_init1(Int32(IN_CLOEXEC | IN_NONBLOCK))
        guard watch >= 0 else { throw CloacinaError(.configuration, "cannot watch \(directory): inotify unavailable") }
        let mask = UInt32(IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE | IN_CREATE)
        guard inotify_add_watch(watch, directory, mask) >= 0 else {
            close(watch)
            throw CloacinaError(.configuration, "cannot watch \(directory): \(String(cString: strerror(errno)))")
        }
        var pipe: [Int32] = [-1, -1]
        guard Glibc.pipe(&pipe) == 0 else {
            close(watch)
            throw CloacinaError(.configuration, "cannot watch \(directory): \(String(cString: strerror(errno)))")
        }
        let (stopRead, stopWrite) = (pipe[0], pipe[1])
        let quietMilliseconds = Int32(
            quiet.components.seconds * 1000 + quiet.components.attoseconds / 1_000_000_000_000_000
        )
        // The blocking watch and the reloads it asks for are child tasks: graceful shutdown (or cancellation) ends the
        // requests, wakes the watch through the pipe, and waits for both.
        let (changes, changed) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        await withDiscardingTaskGroup { group in
            group.addTask {
                try? await BlockingCall.run {
                    Self.loop(watch: watch, stop: stopRead, quiet: quietMilliseconds) { changed.yield() }
                }
                changed.finish()
            }
            await daemon.reloads(on: changes.cancelOnGracefulShutdown())
            _ = Glibc.write(stopWrite, [UInt8(1)], 1)
        }
        close(watch)
        close(stopRead)
        close(stopWrite)
    }

    /// Blocks on the inotify descriptor until `stop` is readable; calls `changed` after each quiet period that
    /// followed changes.
    private static func loop(watch: Int32, stop: Int32, quiet: Int32, changed: () -> Void) {
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        var pending = false
        while true {
            var descriptors = [
                pollfd(fd: watch, events: Int16(POLLIN), revents: 0),
                pollfd(fd: stop, events: Int16(POLLIN), revents: 0),
            ]
            let ready = poll(&descriptors, 2, pending ? quiet : -1)
            if ready < 0 && errno == EINTR { continue }
            if ready < 0 || descriptors[1].revents != 0 { return }
            if ready == 0 {
                pending = false
                changed()
                continue
            }
            // Drain what is there; any finished change to a `*.so` (or an overflow) calls for a reload.
            while true {
                let count = buffer.withUnsafeMutableBytes { read(watch, $0.baseAddress, $0.count) }
                if count <= 0 { break }
                pending = pending || relevant(buffer[0..<count])
            }
        }
    }

    /// Whether the events in `bytes` concern a non-hidden `*.so` file or foreign library manifest
    /// (`*.workflow.json`), or the queue overflowed.
    private static func relevant(_ bytes: ArraySlice<UInt8>) -> Bool {
        var offset = bytes.startIndex
        let header = MemoryLayout<inotify_event>.size
        while offset + header <= bytes.endIndex {
            let (mask, length) = bytes.withUnsafeBytes { raw -> (UInt32, Int) in
                let base = offset - bytes.startIndex
                return (
                    raw.loadUnaligned(fromByteOffset: base + 4, as: UInt32.self),
                    Int(raw.loadUnaligned(fromByteOffset: base + 12, as: UInt32.self))
                )
            }
            if mask & UInt32(IN_Q_OVERFLOW) != 0 { return true }
            let nameBytes = bytes[(offset + header)..<min(offset + header + length, bytes.endIndex)].prefix { $0 != 0 }
            let name = String(decoding: nameBytes, as: UTF8.self)
            if (name.hasSuffix(".so") || name.hasSuffix(".workflow.json")) && !name.hasPrefix(".") { return true }
            offset += header + length
        }
        return false
    }
}
