internal import CPostgreSQL
internal import CloacinaStorage
internal import Dispatch
internal import Synchronization

#if canImport(Glibc)
internal import Glibc
#endif

/// The `LISTEN` side of PostgreSQL's notifications for one connection string: one session, shared by every store of
/// the process that connects with that string, listening on each store's channel and calling the store's handlers
/// when a notification arrives.
///
/// Notifications are hints to look again, never data: anyone connected to the database may send one on any channel,
/// so a payload other than the ones a handler knows is ignored, and a flood only makes a runner look more often.
/// When the session breaks, it reconnects (backing off up to 5 s) and calls every handler with ``Signal/missed``,
/// since notifications sent meanwhile were lost. It runs on a Dispatch queue of its own while it has subscribers and
/// closes its session when the last one leaves. It sends nothing; stores send with `pg_notify` in their own
/// statements.
final class PostgresListener: @unchecked Sendable {
    /// What a handler is told.
    enum Signal: Sendable, Equatable {
        /// A notification with this payload arrived on the handler's channel.
        case notified(String)
        /// The session was lost and is back: notifications may have been missed.
        case missed
    }

    typealias Handler = @Sendable (Signal) -> Void

    private struct State {
        var handlers: [String: [UInt64: Handler]] = [:]
        var nextToken: UInt64 = 0
        var running = false
    }

    private let conninfo: String
    private let state = Mutex(State())
    /// A pipe whose read end the loop polls beside the session's socket: a byte written wakes it (a subscription
    /// changed, or the last subscriber left).
    private let wake: (read: Int32, write: Int32)
    private let queue: DispatchQueue

    private static let shared = Mutex<[String: PostgresListener]>([:])

    private init(conninfo: String) {
        self.conninfo = conninfo
        var fds: [Int32] = [-1, -1]
        if pipe(&fds) == 0 {
            for fd in fds {
                _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
                _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
            }
        } else {
            fds = [-1, -1]
        }
        wake = (fds[0], fds[1])
        queue = DispatchQueue(label: "cloacina-listen \(ConnectionStringRedaction.redact(conninfo))")
    }

    deinit {
        if wake.read >= 0 { close(wake.read) }
        if wake.write >= 0 { close(wake.write) }
    }

    /// Calls `handler` on every notification on `channel` (a plain identifier: letters, digits, `_`) until the
    /// returned observation is cancelled. Returns at once; the session connects in the background.
    static func subscribe(
        conninfo: String,
        channel: String,
        _ handler: @escaping Handler
    ) -> StoreObservation {
        let listener = shared.withLock { listeners in
            if let existing = listeners[conninfo] { return existing }
            let created = PostgresListener(conninfo: conninfo)
            listeners[conninfo] = created
            return created
        }
        let (token, start) = listener.state.withLock { state in
            state.nextToken += 1
            state.handlers[channel, default: [:]][state.nextToken] = handler
            defer { state.running = true }
            return (state.nextToken, !state.running)
        }
        if start {
            listener.queue.async { listener.run() }
        } else {
            listener.poke()
        }
        return StoreObservation {
            listener.state.withLock { state in
                state.handlers[channel]?[token] = nil
                if state.handlers[channel]?.isEmpty == true { state.handlers[channel] = nil }
            }
            listener.poke()
        }
    }

    private func poke() {
        var byte: UInt8 = 1
        _ = write(wake.write, &byte, 1)
    }

    /// The loop: keeps a session listening on exactly the subscribed channels, delivers notifications, and ends
    /// (closing the session) once nobody subscribes.
    private func run() {
        var connection: PostgresConnection?
        var listening: Set<String> = []
        var failures = 0
        var everConnected = false
        while true {
            let channels = state.withLock { state -> Set<String>? in
                if state.handlers.isEmpty {
                    // The last subscriber left: stop, unless one arrives before the registry forgets this listener.
                    state.running = false
                    return nil
                }
                return Set(state.handlers.keys)
            }
            guard let channels else {
                Self.shared.withLock { listeners in
                    let idle = state.withLock { !$0.running && $0.handlers.isEmpty }
                    if idle, listeners[conninfo] === self { listeners[conninfo] = nil }
                }
                // A subscriber that came in between restarted the loop itself (``running`` was false).
                return
            }
            if connection == nil {
                do {
                    connection = try PostgresConnection(conninfo)
                    listening = []
                    failures = 0
                    if everConnected { deliverToAll(.missed) }
                    everConnected = true
                } catch {
                    failures += 1
                    wait(timeoutMilliseconds: Int32(min(5_000, 100 << min(failures, 6))), socket: -1)
                    continue
                }
            }
            guard let session = connection else { continue }
            do throws(PostgresError) {
                for channel in channels.subtracting(listening) {
                    try session.execute("LISTEN \(channel)")
                    listening.insert(channel)
                }
                for channel in listening.subtracting(channels) {
                    try session.execute("UNLISTEN \(channel)")
                    listening.remove(channel)
                }
            } catch {
                connection = nil
                continue
            }
            let ready = wait(timeoutMilliseconds: 30_000, socket: PQsocket(session.handle))
            if ready == .timedOut {
                // Silence: make sure the session is still there (a partition shows only when something is sent).
                if (try? session.execute("SELECT 1")) == nil { connection = nil }
                continue
            }
            if ready == .socket {
                guard PQconsumeInput(session.handle) == 1 else {
                    connection = nil
                    continue
                }
                deliver(Self.notifications(of: session))
            }
        }
    }

    private enum Wake { case socket, pipe, timedOut }

    /// Waits until the session's socket is readable, the wake pipe was written, or the timeout passed.
    @discardableResult
    private func wait(timeoutMilliseconds: Int32, socket: Int32) -> Wake {
        var fds = [pollfd(fd: wake.read, events: Int16(POLLIN), revents: 0)]
        if socket >= 0 { fds.append(pollfd(fd: socket, events: Int16(POLLIN), revents: 0)) }
        let count = poll(&fds, nfds_t(fds.count), timeoutMilliseconds)
        guard count > 0 else { return .timedOut }
        if fds[0].revents != 0 {
            var buffer = [UInt8](repeating: 0, count: 64)
            while read(wake.read, &buffer, buffer.count) > 0 {}
        }
        return fds.count > 1 && fds[1].revents != 0 ? .socket : .pipe
    }

    private static func notifications(of session: PostgresConnection) -> [(channel: String, payload: String)] {
        var received: [(String, String)] = []
        while let notify = PQnotifies(session.handle) {
            received.append((String(cString: notify.pointee.relname), String(cString: notify.pointee.extra)))
            PQfreemem(notify)
        }
        return received
    }

    private func deliver(_ received: [(channel: String, payload: String)]) {
        guard !received.isEmpty else { return }
        let handlers = state.withLock { $0.handlers }
        for (channel, payload) in received {
            guard let subscribed = handlers[channel] else { continue }
            for handler in subscribed.values { handler(.notified(payload)) }
        }
    }

    private func deliverToAll(_ signal: Signal) {
        let handlers = state.withLock { $0.handlers }
        for channel in handlers.values {
            for handler in channel.values { handler(signal) }
        }
    }
}
