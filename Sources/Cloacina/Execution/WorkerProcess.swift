internal import CloacinaStorage
internal import Logging

#if canImport(Glibc)
internal import Glibc
#endif

/// One task worker process as the host sees it: started for one package image, then used for one call at a time.
///
/// Whoever holds a worker (the invoker hands it out for one call and takes it back) is the only one using it, so it
/// has no lock of its own. Its protocol socket is the child's descriptor 3 (cancellations go on a socket of their
/// own, descriptor 4, so the worker reads calls on the thread that runs them); its standard output and standard error
/// are pipes the host reads while a call runs and logs with that call's tenant and task.
final class WorkerProcess: @unchecked Sendable {
    let pid: pid_t
    /// When it last finished a call, for reaping idle workers.
    var idleSince = ContinuousClock.now
    private let socket: Int32
    /// Where cancellations go.
    private let control: Int32
    private let processHandle: Int32?
    private let wake: (read: Int32, write: Int32)
    private var outputs: [WorkerOutput]
    private var frames: WorkerFrames
    private var nextCall: UInt64 = 0
    private var reaped = false
    /// Whether an output pipe was seen readable since the last flush.
    private var outputSeen = false
    /// Where the worker's output goes: the running call's logger, else ``logger``.
    private var currentLogger = WorkerProcess.logger
    /// Where the running call's log lines are kept for the store, besides its logger.
    private var currentRecorder: TaskLogRecorder?

    /// How a worker ended other than by the host stopping it while idle.
    enum Ending: Sendable, Error {
        /// The process ended on its own (a crash, an exit, a resource limit, a `kill` from outside).
        case died(ChildProcess.Termination, lastError: String?)
        /// It sent a frame that breaks the protocol, or closed its socket; the host killed it.
        case brokeProtocol(String)
        /// The host killed it: a cancelled call that did not stop within the grace period, or a load that took too
        /// long.
        case killed(String)

        /// Whether the worker died unasked (counted in ``WorkerCrashes``).
        var isCrash: Bool {
            if case .killed = self { return false }
            return true
        }

        /// The `signal` label of the crash counter.
        var signalLabel: String {
            switch self {
            case .died(.signalled(let signal), _): return ChildProcess.signalName(signal, long: false)
            case .died: return "exit"
            case .brokeProtocol: return "protocol"
            case .killed: return "SIGKILL"
            }
        }

        /// What the failed attempt records.
        var cause: String {
            switch self {
            case .died(let termination, let lastError):
                let what: String
                switch termination {
                case .signalled(let signal): what = "worker killed by \(ChildProcess.signalName(signal))"
                case .exited(let status): what = "worker exited with status \(status)"
                case .timedOut: what = "worker timed out"
                }
                return what + (lastError.map { ": \($0)" } ?? "")
            case .brokeProtocol(let reason): return "worker broke the protocol (\(reason)); it was killed"
            case .killed(let reason): return reason
            }
        }
    }

    /// What a worker needs to start.
    struct Launch: Sendable {
        var command: [String]
        var imagePath: String
        var sha256: String
        var limits: WorkerLimits
        var loadTimeout: Duration
        var grace: Duration
    }

    /// Why a worker could not be started.
    enum StartFailure: Error {
        /// The process could not be created.
        case spawn(String)
        /// The worker refused the package (it reported why and exited).
        case load(String)
        /// It died, broke the protocol or was killed before it was ready.
        case ended(Ending)
    }

    private init(
        pid: pid_t,
        socket: Int32,
        control: Int32,
        processHandle: Int32?,
        wake: (read: Int32, write: Int32),
        outputs: [WorkerOutput]
    ) {
        self.pid = pid
        self.socket = socket
        self.control = control
        self.processHandle = processHandle
        self.wake = wake
        self.outputs = outputs
        self.frames = WorkerFrames(limits: [
            .ready: 64, .loadFailed: Self.longestTextFrame, .log: Self.longestTextFrame,
        ])
    }

    deinit {
        stop()
    }

    // MARK: Starting

    /// Starts a worker for `launch`'s image and waits until it loaded the package (or failed to, or `cancellation`
    /// fired and the grace period passed). Blocks the calling thread.
    static func start(
        _ launch: Launch,
        cancellation: TaskCancellation,
        logger: Logger
    ) -> Result<WorkerProcess, StartFailure> {
        let worker: WorkerProcess
        do {
            worker = try spawn(launch.command)
        } catch {
            return .failure(.spawn(error.description))
        }
        let hello = WorkerMessage.hello(
            .init(
                version: WorkerMessage.version,
                imagePath: launch.imagePath,
                sha256: launch.sha256,
                limits: launch.limits
            )
        )
        if let error = WorkerFrames.send(hello.frame(), to: worker.socket) {
            return .failure(.ended(worker.ended(afterWriteError: error)))
        }
        let deadline = ContinuousClock.now + launch.loadTimeout
        switch worker.next(
            call: nil,
            told: false,
            maximumOutputBytes: 0,
            cancellation: cancellation,
            grace: launch.grace,
            deadline: deadline,
            logger: logger
        ) {
        case .success(.ready(let version, _)):
            guard version == WorkerMessage.version else {
                return .failure(
                    .ended(worker.broke("protocol version \(version); this host speaks \(WorkerMessage.version)"))
                )
            }
            worker.flushOutput(to: logger)
            return .success(worker)
        case .success(.loadFailed(let reason)):
            worker.stop()
            return .failure(.load(reason))
        case .success(let message):
            return .failure(.ended(worker.broke("\(message.kind) frame where a ready frame belongs")))
        case .failure(let ending):
            return .failure(.ended(ending))
        }
    }

    private static func spawn(_ command: [String]) throws(FileSystem.Failure) -> WorkerProcess {
        var opened: [Int32] = []
        func closeAll() { for fd in opened { close(fd) } }
        do {
            let (host, child) = try Descriptors.socketPair()
            opened += [host, child]
            let (control, controlChild) = try Descriptors.socketPair()
            opened += [control, controlChild]
            let output = try Descriptors.pipe()
            opened += [output.read, output.write]
            let error = try Descriptors.pipe()
            opened += [error.read, error.write]
            let wake = try Descriptors.pipe()
            opened += [wake.read, wake.write]
            let pid = try ChildProcess.spawn(
                command,
                environment: PackageProbe.childEnvironment(),
                descriptors: [(output.write, 1), (error.write, 2), (child, 3), (controlChild, 4)],
                ownGroup: false
            )
            for fd in [child, controlChild, output.write, error.write] { close(fd) }
            for fd in [output.read, error.read, wake.read, wake.write] { Descriptors.setNonBlocking(fd) }
            return WorkerProcess(
                pid: pid,
                socket: host,
                control: control,
                processHandle: Descriptors.processHandle(pid),
                wake: wake,
                outputs: [
                    WorkerOutput(stream: "stdout", fd: output.read), WorkerOutput(stream: "stderr", fd: error.read),
                ]
            )
        } catch {
            closeAll()
            throw error
        }
    }

    /// The largest log or load-error frame: the worker cuts texts at ``WorkerMessage/longestText`` bytes.
    private static let longestTextFrame = WorkerMessage.longestText + 64

    // MARK: Calls

    /// Runs `request` in the worker: the task's result, or how the worker ended (then it is gone). Once
    /// `cancellation` fires the worker is told, and killed if the call has not returned within `grace`.
    func call(
        _ request: TaskRequest,
        cancellation: TaskCancellation,
        grace: Duration,
        logger: Logger
    ) -> Result<TaskResult, Ending> {
        nextCall += 1
        let id = nextCall
        let cancelled = cancellation.isCancelled
        let call = WorkerMessage.call(
            .init(
                id: id,
                attempt: UInt32(clamping: request.attempt),
                // Every line, when they are kept for the store; else only those the logger shows.
                logLevel: request.logRecorder == nil ? logger.logLevel : .trace,
                maximumOutputBytes: UInt32(clamping: request.maximumOutputBytes),
                cancelled: cancelled,
                workflow: request.workflow,
                task: request.task,
                tenant: request.tenant,
                executionID: request.executionID,
                context: request.context
            )
        )
        let frame = call.frame()
        guard frame.count - 4 <= WorkerMessage.largestCall else {
            return .success(
                .failed("the input context is \(request.context.count) bytes, too large to send to a worker process")
            )
        }
        // A result carries the output or a failure message, and a few bytes of header.
        frames.limits[.result] =
            max(
                min(request.maximumOutputBytes, Int(Int32.max) - 64),
                WorkerMessage.longestMessage(outputLimit: request.maximumOutputBytes)
            ) + 64
        currentLogger = logger
        currentRecorder = request.logRecorder
        defer {
            flushOutput(to: logger)
            currentLogger = Self.logger
            currentRecorder = nil
        }
        if let error = WorkerFrames.send(frame, to: socket) { return .failure(ended(afterWriteError: error)) }
        switch next(
            call: id,
            told: cancelled,
            maximumOutputBytes: request.maximumOutputBytes,
            cancellation: cancellation,
            grace: grace,
            deadline: nil,
            logger: logger
        ) {
        case .success(.result(let resultID, let result)) where resultID == id:
            return .success(result)
        case .success(let message):
            return .failure(broke("\(message.kind) frame where the result of call \(id) belongs"))
        case .failure(let ending):
            return .failure(ending)
        }
    }

    /// Whether the process still runs with its socket open (checked without waiting, before a call). Bytes waiting
    /// on the socket do not matter here: the next call reads them.
    var isAlive: Bool {
        guard !reaped else { return false }
        var pollers = [pollfd(fd: socket, events: 0, revents: 0)]
        if let processHandle { pollers.append(pollfd(fd: processHandle, events: Int16(POLLIN), revents: 0)) }
        guard poll(&pollers, nfds_t(pollers.count), 0) > 0 else { return true }
        return pollers[0].revents & Int16(POLLHUP | POLLERR) == 0 && (pollers.count < 2 || pollers[1].revents == 0)
    }

    /// How the worker ended after it was found not alive between calls (nil if it was stopped by the host).
    func collectEnding() -> Ending? {
        reaped ? nil : died()
    }

    /// Kills the process if it still runs, collects it, and closes its descriptors. Idempotent.
    func stop() {
        guard !reaped else { return }
        kill(pid, SIGKILL)
        _ = reap()
    }

    // MARK: The event loop

    /// Waits for the worker's next message other than a log line (log lines of call `call` go to `logger`),
    /// forwarding its output, until it ends, `deadline` passes, or `grace` passes after `cancellation` fired (for a
    /// call, the worker is told at once, unless it was `told` with the call).
    private func next(
        call: UInt64?,
        told: Bool,
        maximumOutputBytes: Int,
        cancellation: TaskCancellation,
        grace: Duration,
        deadline: ContinuousClock.Instant?,
        logger: Logger
    ) -> Result<WorkerMessage, Ending> {
        let wakeUp = wake.write
        let token = cancellation.onCancel {
            var byte: UInt8 = 1
            _ = write(wakeUp, &byte, 1)
        }
        defer { cancellation.removeHandler(token) }
        var stopBy: ContinuousClock.Instant?
        var pollers: [pollfd] = []
        while true {
            do throws(WorkerProtocolError) {
                while let message = try frames.next() {
                    switch message {
                    case .log(let id, let level, let text):
                        if id == call {
                            logger.log(level: level, "\(text)")
                            currentRecorder?.record(level, text)
                        }
                    case .result(_, .succeeded(let output?)) where output.count > maximumOutputBytes:
                        return .failure(
                            broke("an output of \(output.count) bytes, over the \(maximumOutputBytes)-byte limit")
                        )
                    default:
                        return .success(message)
                    }
                }
            } catch {
                return .failure(broke(error.description))
            }
            if stopBy == nil && cancellation.isCancelled {
                stopBy = ContinuousClock.now + grace
                if !told, let call, let error = WorkerFrames.send(WorkerMessage.cancel(id: call).frame(), to: control) {
                    return .failure(ended(afterWriteError: error))
                }
            }
            let limit = [stopBy, deadline].compactMap { $0 }.min()
            let timeout = limit.map { Int32(clamping: max(0, ($0 - .now).inMilliseconds + 1)) } ?? -1
            pollers.removeAll(keepingCapacity: true)
            pollers.append(pollfd(fd: socket, events: Int16(POLLIN), revents: 0))
            pollers.append(pollfd(fd: wake.read, events: Int16(POLLIN), revents: 0))
            for output in outputs where output.fd >= 0 {
                pollers.append(pollfd(fd: output.fd, events: Int16(POLLIN), revents: 0))
            }
            if let processHandle { pollers.append(pollfd(fd: processHandle, events: Int16(POLLIN), revents: 0)) }
            let ready = poll(&pollers, nfds_t(pollers.count), timeout)
            if ready < 0 && errno == EINTR { continue }
            if ready == 0, let limit, ContinuousClock.now >= limit {
                stop()
                if let stopBy, stopBy <= limit {
                    return .failure(
                        .killed(
                            "the task did not stop within \(grace.inMilliseconds) ms of being cancelled; its worker was killed"
                        )
                    )
                }
                return .failure(.killed("the worker did not load the package in time; it was killed"))
            }
            for poller in pollers where poller.revents != 0 {
                if poller.fd == wake.read {
                    var drained = [UInt8](repeating: 0, count: 64)
                    while read(wake.read, &drained, drained.count) > 0 {}
                } else if poller.fd == socket {
                    let count = frames.read(from: socket, waiting: false)
                    if count == 0 || (count < 0 && errno != EAGAIN && errno != EINTR) {
                        return lastWords(call: call, logger: logger)
                    }
                } else if poller.fd == processHandle {
                    return lastWords(call: call, logger: logger)
                } else if let index = outputs.firstIndex(where: { $0.fd == poller.fd }) {
                    outputSeen = true
                    outputs[index].drain(to: logger)
                }
            }
        }
    }

    /// The worker ended (its socket did, or its process): what it sent before still counts, a result included
    /// (the next call finds it gone); otherwise how it ended.
    private func lastWords(call: UInt64?, logger: Logger) -> Result<WorkerMessage, Ending> {
        while frames.read(from: socket, waiting: false) > 0 {}
        while let message = try? frames.next() {
            switch message {
            case .log(let id, let level, let text) where id == call:
                logger.log(level: level, "\(text)")
                currentRecorder?.record(level, text)
            case .log: continue
            case .result where call != nil, .ready where call == nil, .loadFailed where call == nil:
                return .success(message)
            default: return .failure(died())
            }
        }
        return .failure(died())
    }

    /// Logs what the worker wrote, up to now. (The worker flushes its output before it answers, so what it wrote
    /// for a call was readable, and seen, by the time its answer was.)
    private func flushOutput(to logger: Logger) {
        guard outputSeen else { return }
        outputSeen = false
        for index in outputs.indices {
            outputs[index].drain(to: logger)
            outputs[index].flush(to: logger)
        }
    }

    // MARK: Endings

    /// The worker's socket ended, or its process did: collects how it ended. A process still running has closed
    /// its socket itself; it is killed.
    private func died() -> Ending {
        var status: Int32 = 0
        var collected = waitpid(pid, &status, WNOHANG) == pid
        if !collected, let processHandle {
            // The kernel closes a dying process's descriptors a moment before it can be collected.
            var poller = pollfd(fd: processHandle, events: Int16(POLLIN), revents: 0)
            while poll(&poller, 1, 1000) < 0 && errno == EINTR {}
            collected = waitpid(pid, &status, WNOHANG) == pid
        }
        let closedItself = !collected && processHandle != nil
        if !collected {
            kill(pid, SIGKILL)
            while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        }
        // Everything it wrote is in the pipes now: its last words explain a crash.
        for index in outputs.indices { outputs[index].drain(to: currentLogger) }
        let lastError = outputs[1].lastLine
        reaped = true
        closeDescriptors()
        if closedItself { return .brokeProtocol("it closed its protocol socket") }
        return .died(ChildProcess.termination(status), lastError: lastError)
    }

    /// A send to the worker failed with `error`: it ended, or its socket did.
    private func ended(afterWriteError error: Int32) -> Ending {
        guard error == EPIPE || error == ECONNRESET else {
            return broke("cannot write to its socket: \(FileSystem.errorText(error))")
        }
        return died()
    }

    /// The worker broke the protocol: it is killed.
    private func broke(_ reason: String) -> Ending {
        stop()
        return .brokeProtocol(reason)
    }

    /// Waits for the (killed or dead) process and closes the descriptors; returns the wait status.
    private func reap() -> Int32 {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        reaped = true
        closeDescriptors()
        return status
    }

    private func closeDescriptors() {
        // What it wrote last is still worth logging; then nothing more is read.
        for index in outputs.indices {
            outputs[index].drain(to: currentLogger)
            outputs[index].flush(to: currentLogger)
            outputs[index].close()
        }
        for fd in [socket, control, wake.read, wake.write] { close(fd) }
        if let processHandle { close(processHandle) }
    }

    /// Where output of a worker that ended between calls goes.
    static let logger = Logger(label: "cloacina.worker")
}
