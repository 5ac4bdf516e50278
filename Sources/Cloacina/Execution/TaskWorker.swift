internal import CloacinaStorage
internal import Logging
internal import Synchronization

#if canImport(Glibc)
internal import Glibc
#endif

/// The worker side of process isolation (see ``ProcessTaskInvoker``): a process that opens one package image and
/// runs the host's task calls in it, one at a time, until the host goes away.
///
/// The host talks to it over descriptor 3 only (``WorkerMessage`` frames); its standard output and standard error
/// are pipes the host logs, so nothing a package prints can pass for a frame. The worker applies its resource limits
/// before it opens the package, checks the image is the exact version the host pinned (by SHA-256) before any of
/// its code runs, and loads it with the ordinary ``PackageLoader``. Tasks run on the main thread through an
/// ``InProcessTaskInvoker``; another thread reads frames meanwhile, so a cancellation reaches `host->is_cancelled`
/// while the task runs, and the end of the stream (the host closed it or died) ends the worker at once.
public enum TaskWorker {
    /// Serves the host on descriptor `fd`; never returns.
    public static func serve(protocolDescriptor fd: Int32 = 3) -> Never {
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

        let calls = CallQueue()
        let reader = frames
        startThread(name: "cloacina-worker-reader") {
            var frames = reader
            while true {
                switch Result(catching: { () throws(WorkerProtocolError) in try frames.receive(from: fd) }) {
                case .success(.call(let call)?): calls.push(call)
                case .success(.cancel(let id)?): calls.cancel(id)
                // The host closed the stream, or died: nothing is left to do.
                case .success(nil): _exit(0)
                case .success, .failure: _exit(2)
                }
            }
        }
        while true {
            let (call, cancellation) = calls.next()
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
            calls.finished()
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
        let directory = String(hello.imagePath[..<(hello.imagePath.lastIndex(of: "/") ?? hello.imagePath.endIndex)])
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

/// Calls the reader thread received, for the task thread; and the cancellation of each.
private final class CallQueue: Sendable {
    private struct State {
        var pending: [(WorkerMessage.Call, TaskCancellation)] = []
        var running: (id: UInt64, cancellation: TaskCancellation)?
    }

    private let lock = ConditionLock()
    nonisolated(unsafe) private var state = State()

    func push(_ call: WorkerMessage.Call) {
        let cancellation = TaskCancellation()
        if call.cancelled { cancellation.cancel() }
        lock.withLock {
            state.pending.append((call, cancellation))
            lock.signal()
        }
    }

    func cancel(_ id: UInt64) {
        let cancellation: TaskCancellation? = lock.withLock {
            if let running = state.running, running.id == id { return running.cancellation }
            return state.pending.first { $0.0.id == id }?.1
        }
        cancellation?.cancel()
    }

    /// Waits for the next call.
    func next() -> (WorkerMessage.Call, TaskCancellation) {
        lock.lock()
        defer { lock.unlock() }
        while state.pending.isEmpty { lock.wait() }
        let next = state.pending.removeFirst()
        state.running = (next.0.id, next.1)
        return next
    }

    func finished() {
        lock.withLock { state.running = nil }
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
