internal import CloacinaJSON
internal import Synchronization

#if canImport(Glibc)
internal import Glibc
#endif

/// One call of a ``PackageProbe``: the files to decide, the loading processes ("lanes") working on them, and the
/// rules of ``PackageProbe`` for what to believe and whom to blame. Driven by one thread at a time: the caller's,
/// then (once it returned settled) whichever thread holds its ``Handle``'s lock.
final class ProbeRun: @unchecked Sendable {
    /// A file to load, by its index in ``files``; `alone` when it must be loaded in a process of its own.
    struct Job {
        var index: Int
        var alone: Bool
    }

    /// One loading process and where it is in the protocol.
    final class Lane {
        enum Phase {
            /// Loading `job`, since `started`.
            case loading(job: Job, started: ContinuousClock.Instant)
            /// `job` loaded; waiting for the report that answers `nonce`.
            case reporting(job: Job, started: ContinuousClock.Instant, nonce: [UInt8], bytes: [UInt8])
            /// Between files (a report just arrived).
            case idle
            /// Told to exit, at `since`.
            case exiting(since: ContinuousClock.Instant)
        }

        let session: ProbeSession
        var phase: Phase = .idle
        /// Reports received, counted only once the process exits cleanly.
        var reported: [(job: Job, report: PackageReport)] = []
        /// The stage the current file reached, as the child said.
        var stage = PackageLoadError.Stage.read
        /// Set when a file took longer than ``PackageProbe/slowAfter``: the lane takes no more files.
        var slow = false
        /// Takes one file only.
        let alone: Bool
        /// Files sent to this process so far, the current one included.
        var sent = 0
        /// Why the parent ended the process (a forged or malformed frame), if it did.
        var violation: String?

        init(session: ProbeSession, alone: Bool) {
            self.session = session
            self.alone = alone
        }

        var job: Job? {
            switch phase {
            case .loading(let job, _), .reporting(let job, _, _, _): return job
            case .idle, .exiting: return nil
            }
        }
    }

    /// What another thread may touch while one drives the run: the sessions to kill on cancellation.
    final class Control: Sendable {
        let live = Mutex<[ProbeSession]>([])
        let cancelled = Atomic<Bool>(false)

        func cancel() {
            cancelled.store(true, ordering: .relaxed)
            live.withLock { sessions in
                for session in sessions { session.kill() }
            }
        }
    }

    /// Lets another thread drive or cancel a run that returned settled.
    final class Handle: Sendable {
        private let run: Mutex<ProbeRun?>
        private let control: Control

        init(_ run: ProbeRun) {
            control = run.control
            self.run = Mutex(run)
        }

        func drive() -> [PackageReport] {
            run.withLock { run in
                guard let current = run else { return [] }
                let pending = current.pendingIndexes
                current.drive(untilSettled: false)
                run = nil
                return pending.map { current.reports[$0]! }
            }
        }

        func cancel() {
            control.cancel()
        }

        deinit {
            // Never waited for: its processes are killed and reaped, not left behind.
            run.withLock { run in
                guard let current = run else { return }
                control.cancel()
                current.drive(untilSettled: false)
            }
        }
    }

    let probe: PackageProbe
    let files: [String]
    private(set) var reports: [PackageReport?]
    /// The parent's view of each file that passed the checks run before any of its code: its report so far.
    private var inspected: [Int: PackageReport] = [:]
    /// Later files with the content of an earlier one: index → the earlier index.
    private var duplicates: [Int: Int] = [:]
    private var queue: [Job] = []
    private var lanes: [Lane] = []
    /// The sessions running, for ``Handle/cancel()`` from another thread.
    let control = Control()
    /// Set when a loading process cannot even be started: every file not decided gets this error.
    private var startFailure: PackageLoadError?
    /// Loading processes that found no channel and were started again (at most ``channelRestarts``).
    private var restarted = 0
    /// Seen under heavy load (a few times in hundreds of runs, cause not yet found): a loading process that exits
    /// with ``PackageProbe/noChannelStatus`` before it reported any stage never ran package code, so its file is
    /// tried again in a new process rather than blamed.
    private static let channelRestarts = 3

    init(probe: PackageProbe, files: [String]) {
        self.probe = probe
        self.files = files
        reports = Array(repeating: nil, count: files.count)
        var firstOfContent: [String: Int] = [:]
        for (index, file) in files.enumerated() {
            // Files rejected before any of their code would run need no child process.
            switch PackageLoader.inspect(file: file) {
            case .rejected(let rejected):
                reports[index] = rejected
            case .candidate(let candidate):
                if let first = firstOfContent[candidate.sha256] {
                    duplicates[index] = first
                    continue
                }
                firstOfContent[candidate.sha256] = index
                inspected[index] = candidate.report
                queue.append(Job(index: index, alone: false))
            }
        }
        copyDuplicates()
    }

    var isFinished: Bool { reports.allSatisfy { $0 != nil } }

    /// The indexes of files not yet decided.
    var pendingIndexes: [Int] { reports.indices.filter { reports[$0] == nil } }
    var pendingFiles: [String] { pendingIndexes.map { files[$0] } }

    // MARK: Driving

    /// Runs until every file is decided or, with `untilSettled`, until every file not decided is slow.
    func drive(untilSettled: Bool) {
        while true {
            assignWork()
            if lanes.isEmpty && queue.isEmpty { break }
            if untilSettled && probe.slowAfter != nil && queue.isEmpty && lanes.allSatisfy(\.slow) { break }
            waitForEvents()
        }
        copyDuplicates()
    }

    /// Gives idle lanes their next file (or tells them to exit), and starts lanes for work no lane can take.
    private func assignWork() {
        if let failure = startFailure {
            for job in queue { reject(job, failure) }
            queue.removeAll()
        }
        if control.cancelled.load(ordering: .relaxed) {
            for job in queue { reject(job, PackageLoadError(.isolation, "cancelled before it loaded")) }
            queue.removeAll()
        }
        for lane in lanes {
            guard case .idle = lane.phase else { continue }
            let full = lane.slow || (lane.alone && !lane.reported.isEmpty)
            if !full, let position = queue.firstIndex(where: { $0.alone == lane.alone }) {
                send(queue.remove(at: position), to: lane)
            } else {
                lane.phase = .exiting(since: .now)
                if !lane.session.channel.send(.exit, wait: false) { lane.session.kill() }
            }
        }
        // One lane loads the ordinary files; each file that must load alone gets a lane of its own.
        while let position = queue.firstIndex(where: \.alone) {
            guard let lane = startLane(alone: true) else { return }
            send(queue.remove(at: position), to: lane)
        }
        let ordinaryLane = lanes.contains { !$0.alone && !$0.slow }
        if !ordinaryLane, !queue.isEmpty, let lane = startLane(alone: false) {
            send(queue.removeFirst(), to: lane)
        }
    }

    private func startLane(alone: Bool) -> Lane? {
        do {
            let session = try ProbeSession.start(probe.command, environment: PackageProbe.childEnvironment())
            control.live.withLock { $0.append(session) }
            let lane = Lane(session: session, alone: alone)
            lanes.append(lane)
            return lane
        } catch {
            startFailure = PackageLoadError(.isolation, "\(error)")
            for job in queue { reject(job, startFailure!) }
            queue.removeAll()
            return nil
        }
    }

    private func send(_ job: Job, to lane: Lane) {
        lane.stage = .read
        lane.sent += 1
        lane.phase = .loading(job: job, started: .now)
        let request: JSONValue = ["file": .string(files[job.index]), "cache": .string(probe.cacheDirectory)]
        if !lane.session.channel.send(.load, Array(request.serializedString().utf8), wait: false) {
            // The process is gone or not reading: its end says why (its own exit status when it ended by itself).
            if !lane.session.reapIfEnding() { lane.session.kill() }
        }
    }

    /// Polls every lane until something happens or a deadline passes, and handles it.
    private func waitForEvents() {
        let now = ContinuousClock.now
        var deadline: ContinuousClock.Instant?
        for lane in lanes {
            for candidate in deadlines(of: lane) where deadline.map({ candidate < $0 }) ?? true {
                deadline = candidate
            }
        }
        var descriptors: [(lane: Lane, fd: Int32)] = []
        for lane in lanes {
            for fd in lane.session.pollDescriptors { descriptors.append((lane, fd)) }
        }
        var pollers = descriptors.map { pollfd(fd: $0.fd, events: Int16(POLLIN), revents: 0) }
        let wait = deadline.map { Int32(clamping: max(($0 - now).inMilliseconds + 1, 0)) } ?? -1
        let ready = poll(&pollers, nfds_t(pollers.count), wait)
        if ready < 0 && errno != EINTR { return }
        for (position, poller) in pollers.enumerated() where poller.revents != 0 {
            let (lane, fd) = descriptors[position]
            guard lanes.contains(where: { $0 === lane }) else { continue }
            if fd == lane.session.output {
                lane.session.drainOutput()
            } else if fd == lane.session.channel.fd {
                receive(on: lane)
            } else {
                lane.session.reap(wait: true)
            }
        }
        checkDeadlines()
        for lane in lanes where lane.session.termination != nil || lane.violation != nil {
            end(lane)
        }
    }

    private func deadlines(of lane: Lane) -> [ContinuousClock.Instant] {
        switch lane.phase {
        case .loading(_, let started), .reporting(_, let started, _, _):
            var result = [started + probe.timeout]
            if let slowAfter = probe.slowAfter, !lane.slow { result.append(started + slowAfter) }
            return result
        case .exiting(let since):
            return [since + probe.timeout]
        case .idle:
            return []
        }
    }

    private func checkDeadlines() {
        let now = ContinuousClock.now
        for lane in lanes {
            switch lane.phase {
            case .loading(let job, let started), .reporting(let job, let started, _, _):
                if now >= started + probe.timeout {
                    lane.session.kill()
                    lane.session.reap(wait: true)
                } else if let slowAfter = probe.slowAfter, !lane.slow, now >= started + slowAfter {
                    // The file keeps this process; what it reported before is loaded again elsewhere.
                    lane.slow = true
                    queue.insert(contentsOf: lane.reported.map { Job(index: $0.job.index, alone: false) }, at: 0)
                    lane.reported.removeAll()
                    _ = job
                }
            case .exiting(let since):
                if now >= since + probe.timeout {
                    lane.session.kill()
                    lane.session.reap(wait: true)
                }
            case .idle:
                break
            }
        }
    }

    // MARK: The protocol

    /// Reads the frames waiting on `lane`'s channel and follows the protocol; a frame out of order ends the process.
    private func receive(on lane: Lane) {
        while lane.session.channelOpen && lane.violation == nil {
            switch lane.session.channel.receive(wait: false) {
            case .frame(let frame): handle(frame, on: lane)
            case .nothing: return
            case .closed:
                // Nothing more can come. With an exit watch, that (or a deadline) says when and how the child ends;
                // without one, wait for an exiting child, kill any other.
                lane.session.closeChannel()
                if lane.session.exitWatch < 0 {
                    if case .exiting = lane.phase {} else { lane.session.kill() }
                    lane.session.reap(wait: true)
                }
            }
        }
    }

    private func handle(_ frame: ProbeChannel.Frame, on lane: Lane) {
        guard frame.sender == lane.session.pid else {
            lane.violation =
                "a message on the loading channel came from another process (pid \(frame.sender.map(String.init) ?? "unknown"))"
            return
        }
        guard !frame.truncated, let kind = frame.kind else {
            lane.violation = "the loading process sent a malformed message"
            return
        }
        switch (kind, lane.phase) {
        case (.stage, .loading):
            if let stage = PackageLoadError.Stage(name: String(decoding: frame.payload, as: UTF8.self)) {
                lane.stage = stage
            }
        case (.loaded, .loading(let job, let started)):
            var nonce = [UInt8](repeating: 0, count: 32)
            var generator = SystemRandomNumberGenerator()
            for position in nonce.indices { nonce[position] = generator.next() }
            lane.phase = .reporting(job: job, started: started, nonce: nonce, bytes: [])
            if !lane.session.channel.send(.challenge, nonce, wait: false) { lane.session.kill() }
        case (.report, .reporting(let job, let started, let nonce, var bytes)):
            bytes += frame.payload
            guard bytes.count <= 64 << 20 else {
                lane.violation = "the loading process sent a report larger than 64 MiB"
                return
            }
            lane.phase = .reporting(job: job, started: started, nonce: nonce, bytes: bytes)
        case (.reportEnd, .reporting(let job, _, let nonce, let bytes)):
            guard String(decoding: frame.payload, as: UTF8.self) == SHA256.hex(nonce + bytes) else {
                lane.violation = "the loading process sent a report that does not answer its challenge (forged)"
                return
            }
            switch verify(bytes, for: job) {
            case .success(let report):
                lane.reported.append((job, report))
                lane.phase = .idle
            case .failure(let violation):
                lane.violation = violation.reason
            }
        default:
            lane.violation = "the loading process sent a \(kind) message out of turn (forged)"
        }
    }

    /// The report in `bytes`, checked against what the parent knows about the file.
    private func verify(_ bytes: [UInt8], for job: Job) -> Result<PackageReport, Violation> {
        let file = files[job.index]
        guard let json = try? JSONValue(parsing: bytes), var report = PackageReport(json: json) else {
            return .failure(Violation(reason: "the loading process sent an unreadable report"))
        }
        guard report.file == file else {
            return .failure(
                Violation(reason: "the loading process sent a report about another file (\(report.file)) (forged)")
            )
        }
        let known = inspected[job.index]!
        report.duplicateOf = nil
        report.package = nil
        guard report.sha256 == known.sha256 else {
            report = known.rejected(
                PackageLoadError(.read, "the file changed while it was being loaded; it is loaded again on change")
            )
            return .success(report)
        }
        guard report.isLoaded else { return .success(report) }
        guard report.info != nil else {
            return .success(known.rejected(PackageLoadError(.info, "the loading process reported no package info")))
        }
        do throws(PackageLoadError) {
            try PackageLoader.validate(report.workflows)
        } catch {
            return .success(known.rejected(error))
        }
        return .success(report)
    }

    /// A breach of the protocol, which ends the loading process.
    struct Violation: Error {
        var reason: String
    }

    // MARK: Ends

    /// A lane whose process ended (or that the parent ends): commits its reports if it ended cleanly, else blames.
    private func end(_ lane: Lane) {
        // What the child sent before it ended still counts (the stage it reached, say).
        receive(on: lane)
        let violation = lane.violation
        lane.session.finish()
        control.live.withLock { $0.removeAll { $0 === lane.session } }
        lanes.removeAll { $0 === lane }
        PackageProbe.forward(lane.session.outputTail)
        let termination = lane.session.termination ?? .timedOut
        if case .exiting = lane.phase, violation == nil, termination == .exited(0) {
            for (job, report) in lane.reported { reports[job.index] = report }
            return
        }
        let cancelled = self.control.cancelled.load(ordering: .relaxed)
        let others = lane.reported.map(\.job)
        if cancelled {
            for job in others + (lane.job.map { [$0] } ?? []) {
                reject(job, PackageLoadError(.isolation, "cancelled: the loading process was stopped"))
            }
            return
        }
        if violation == nil, termination == .exited(PackageProbe.noChannelStatus), lane.stage == .read,
            lane.reported.isEmpty, let job = lane.job, restarted < Self.channelRestarts
        {
            restarted += 1
            queue.insert(job, at: 0)
            return
        }
        let reason = violation ?? describe(termination) + Self.lastLine(of: lane.session.outputTail)
        guard let job = lane.job else {
            // It ended after its last report. Alone, its file did it; else any of its files may have: each is loaded
            // again alone.
            if lane.alone, let only = others.first {
                reject(only, PackageLoadError(.isolation, reason + " (after the package loaded)"))
            } else {
                queue.insert(contentsOf: others.map { Job(index: $0.index, alone: true) }, at: 0)
            }
            return
        }
        queue.insert(contentsOf: others.map { Job(index: $0.index, alone: false) }, at: 0)
        if violation != nil || termination == .timedOut || job.alone || lane.sent == 1 {
            reject(job, PackageLoadError(lane.stage, reason))
        } else {
            queue.insert(Job(index: job.index, alone: true), at: 0)
        }
    }

    private func describe(_ termination: ChildProcess.Termination) -> String {
        switch termination {
        case .signalled(let signal):
            return "the package crashed the loading process with \(ChildProcess.signalName(signal))"
        case .timedOut:
            let seconds = Double(probe.timeout.inMilliseconds) / 1000
            let text = seconds == seconds.rounded() ? "\(Int(seconds))" : "\(seconds)"
            return "loading did not finish within \(text) s; the loading process was killed"
        case .exited(let status):
            return "the loading process exited with status \(status) without a report"
        }
    }

    private func reject(_ job: Job, _ error: PackageLoadError) {
        reports[job.index] = (inspected[job.index] ?? PackageReport(file: files[job.index])).rejected(error)
    }

    /// Gives every duplicate the report of the first file with its content, once that one is decided.
    private func copyDuplicates() {
        for (index, first) in duplicates {
            guard reports[index] == nil, var report = reports[first] else { continue }
            report.file = files[index]
            if report.isLoaded { report.duplicateOf = files[first] }
            reports[index] = report
        }
    }

    /// ": <last non-empty line>" of what the child wrote, or "" when it wrote nothing.
    private static func lastLine(of output: [UInt8]) -> String {
        let lines = output.split(separator: UInt8(ascii: "\n")).map { String(decoding: $0, as: UTF8.self) }
        guard let last = lines.last(where: { $0.contains { !$0.isWhitespace } }) else { return "" }
        return ": " + String(last.drop(while: \.isWhitespace).reversed().drop(while: \.isWhitespace).reversed())
    }
}
