internal import CloacinaStorage
internal import Logging
internal import Synchronization

#if canImport(Glibc)
internal import Glibc
#endif

/// The worker side of process isolation (see ``ProcessTaskInvoker``): a process that opens one package image and
/// runs the host's task calls in it, one at a time, until the host goes away.
///
/// The host talks to it over descriptors 3 and 4 only (``WorkerMessage`` frames); its standard output and standard error
/// are pipes the host logs, so nothing a package prints can pass for a frame. The worker applies its resource limits
/// before it opens the package, checks the image is the exact version the host pinned (by SHA-256) before any of
/// its code runs, and loads it with the ordinary ``PackageLoader``. The main thread reads each call and runs it
/// through an ``InProcessTaskInvoker``; another thread reads cancellations (descriptor 4) meanwhile, so they reach
/// `host->is_cancelled` while the task runs, and the end of that stream (the host closed it or died) ends the worker
/// at once.
public enum TaskWorker {
    /// Serves the host on descriptor `fd` (calls, results, log lines) and `controlDescriptor` (cancellations);
    /// never returns.
    public static func serve(protocolDescriptor fd: Int32 = 3, controlDescriptor: Int32 = 4) -> Never {
        // Children a package starts must not hold the host's socket.
        _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        var frames = WorkerFrames(limits: [.hello: 64 * 1024, .call: WorkerMessage.largestCall, .cancel: 16])
        let socket = WorkerSocket(fd: fd)
        guard case .hello(let hello)? = try? frames.receive(from: fd) else { _exit(2) }
        let package: LoadedPackage
        switch load(hello) {
        case .success(let loaded): package = loaded
        case .failure(let error):
            _ = socket.send(.loadFailed(error.description))
            _exit(0)
        }
        guard socket.send(.ready(version: WorkerMessage.version, pid: getpid())) else { _exit(0) }

        let cancellations = CancelBoard()
        _ = fcntl(controlDescriptor, F_SETFD, FD_CLOEXEC)
        startThread(name: "cloacina-worker-control") {
            var control = WorkerFrames(limits: [.cancel: 16])
            while true {
                switch Result(catching: { () throws(WorkerProtocolError) in
                    try control.receive(from: controlDescriptor)
                }) {
                case .success(.cancel(let id)?): cancellations.cancel(id)
                // The host closed the stream, or died: nothing is left to do, even mid-call.
                case .success(nil): _exit(0)
                case .success, .failure: _exit(2)
                }
            }
        }
        while true {
            let call: WorkerMessage.Call
            switch Result(catching: { () throws(WorkerProtocolError) in try frames.receive(from: fd) }) {
            case .success(.call(let received)?): call = received
            case .success(nil): _exit(0)
            case .success, .failure: _exit(2)
            }
            let cancellation = cancellations.start(call.id, cancelled: call.cancelled)
            hello.limits.renewCPU()
            let request = TaskRequest(
                workflow: call.workflow,
                task: call.task,
                tenant: call.tenant,
                executionID: call.executionID,
                attempt: Int(call.attempt),
                context: call.context,
                maximumOutputBytes: Int(call.maximumOutputBytes)
            )
            let logger = Logger(label: "cloacina.task") { _ in
                FrameLogHandler(call: call.id, socket: socket, logLevel: call.logLevel)
            }
            let result = InProcessTaskInvoker(logger: logger).invoke(request, in: package, cancellation: cancellation)
            // Lines the task printed belong before its result.
            fflush(nil)
            cancellations.finish()
            guard socket.send(.result(id: call.id, bounded(result, Int(call.maximumOutputBytes)))) else { _exit(0) }
        }
    }

    /// Applies the limits, checks the image, loads the package.
    private static func load(_ hello: WorkerMessage.Hello) -> Result<LoadedPackage, WorkerProtocolError> {
        guard hello.version == WorkerMessage.version else {
            return .failure(
                WorkerProtocolError("protocol version \(hello.version); this worker speaks \(WorkerMessage.version)")
            )
        }
        do throws(WorkerProtocolError) {
            try hello.limits.apply()
        } catch {
            return .failure(error)
        }
        // A worker that crashes leaves no core file behind (a crashing package would fill the disk with them).
        var noCore = rlimit(rlim_cur: 0, rlim_max: 0)
        setrlimit(Int32(RLIMIT_CORE.rawValue), &noCore)

        // The exact version, checked before any of its code runs (and again after, in case the file changed).
        switch PackageLoader.inspect(file: hello.imagePath) {
        case .rejected(let report):
            return .failure(WorkerProtocolError("\(hello.imagePath): \(report.error.map { "\($0)" } ?? "rejected")"))
        case .candidate(let candidate) where candidate.sha256 != hello.sha256:
            return .failure(
                WorkerProtocolError(
                    "\(hello.imagePath) has SHA-256 \(candidate.sha256), not \(hello.sha256) as pinned"
                )
            )
        case .candidate:
            break
        }
        let directory = PackageCache.directory(holding: hello.imagePath)
        var logger = Logger(label: "cloacina.worker")
        logger.logLevel = .error
        let loader = PackageLoader(cacheDirectory: directory, durableCache: false, logger: logger)
        let report = loader.load(file: hello.imagePath)
        guard let package = report.package, package.sha256 == hello.sha256 else {
            return .failure(
                WorkerProtocolError("\(hello.imagePath): \(report.error.map { "\($0)" } ?? "not the pinned version")")
            )
        }
        return .success(package)
    }

    /// `result` within the host's output limit: a larger output fails the call (as the runner would), and a
    /// failure message is cut to ``WorkerMessage/longestMessage(outputLimit:)``.
    private static func bounded(_ result: TaskResult, _ limit: Int) -> TaskResult {
        let longest = WorkerMessage.longestMessage(outputLimit: limit)
        func cut(_ message: String) -> String {
            message.utf8.count <= longest ? message : String(decoding: message.utf8.prefix(longest), as: UTF8.self)
        }
        switch result {
        case .succeeded(let output?) where output.count > limit:
            return .failed(
                "the task's output is \(output.count) bytes, over the \(limit)-byte limit (--max-output-bytes)"
            )
        case .succeeded: return result
        case .failed(let message): return .failed(cut(message))
        case .retryable(let message): return .retryable(cut(message))
        case .badInput(let message): return .badInput(cut(message))
        }
    }
}

/// The worker's end of the protocol socket, written from the task's thread (results, log lines) and any thread
/// the package logs from.
private final class WorkerSocket: Sendable {
    let fd: Int32
    private let lock = Mutex(())

    init(fd: Int32) {
        self.fd = fd
    }

    /// Sends `message`; false when the host is gone.
    func send(_ message: WorkerMessage) -> Bool {
        let frame = message.frame()
        return lock.withLock { _ in WorkerFrames.send(frame, to: fd) == nil }
    }
}

/// The call running on the task thread, and cancellations the control thread received for it, or for a call that
/// has not started yet.
private final class CancelBoard: Sendable {
    private struct State {
        var running: (id: UInt64, cancellation: TaskCancellation)?
        var early: Set<UInt64> = []
    }

    private let state = Mutex(State())

    func cancel(_ id: UInt64) {
        let running: TaskCancellation? = state.withLock { state in
            if let running = state.running, running.id == id { return running.cancellation }
            // Before its call started (a cancel for a call that ended is dropped when the next one starts).
            state.early.insert(id)
            return nil
        }
        running?.cancel()
    }

    /// Call `id` starts: its cancellation, cancelled already if the host said so.
    func start(_ id: UInt64, cancelled: Bool) -> TaskCancellation {
        let cancellation = TaskCancellation()
        let early = state.withLock { state in
            state.running = (id, cancellation)
            defer { state.early = state.early.filter { $0 > id } }
            return state.early.contains(id)
        }
        if cancelled || early { cancellation.cancel() }
        return cancellation
    }

    func finish() {
        state.withLock { $0.running = nil }
    }
}

/// Sends a task's `host->log` lines to the host as frames of its call; the host adds tenant and task.
private struct FrameLogHandler: LogHandler {
    let call: UInt64
    let socket: WorkerSocket
    var logLevel: Logger.Level
    var metadata: Logger.Metadata = [:]

    init(call: UInt64, socket: WorkerSocket, logLevel: Logger.Level) {
        self.call = call
        self.socket = socket
        self.logLevel = logLevel
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        _ = socket.send(.log(id: call, level: event.level, message: event.message.description))
    }
}
