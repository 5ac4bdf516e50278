internal import Hummingbird
internal import HummingbirdCore
internal import Logging
internal import NIOCore
internal import Synchronization

/// Hummingbird's HTTP/1 channel with the API's ``HTTPLimits``: every connection gets a ``RequestDeadlineHandler``
/// (and its ``RequestStartTap`` before the HTTP decoder), and connections beyond the limit are closed at once.
///
/// A connection that closes while its request is being answered cancels the task answering it (Hummingbird alone
/// would let it run on), so a `?wait=true` request whose client went away stops waiting.
struct GuardedHTTP1Channel: ServerChildChannel {
    typealias Value = HTTP1Channel.Value

    let responder: HTTPChannelHandler.Responder
    let limits: HTTPLimits
    let connections: ConnectionCount
    private let base: HTTP1Channel

    init(responder: @escaping HTTPChannelHandler.Responder, limits: HTTPLimits) {
        self.responder = responder
        self.limits = limits
        self.connections = ConnectionCount(limit: limits.maxConnections)
        self.base = HTTP1Channel(responder: responder)
    }

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        let deadlines = RequestDeadlineHandler(limits: limits, logger: logger)
        do {
            try channel.pipeline.syncOperations.addHandler(RequestStartTap(deadlines: deadlines))
        } catch {
            return channel.eventLoop.makeFailedFuture(error)
        }
        let bound = NIOLoopBound(deadlines, eventLoop: channel.eventLoop)
        return HTTP1Channel(responder: responder, configuration: .init(additionalChannelHandlers: [bound.value]))
            .setup(channel: channel, logger: logger)
    }

    func handle(value: Value, logger: Logger) async {
        switch connections.open() {
        case .refused:
            logger.debug("connection refused: too many connections", metadata: ["limit": "\(limits.maxConnections)"])
            try? await value.executeThenClose { _, _ in }
            return
        case .reachedLimit:
            logger.warning(
                "HTTP connection limit reached; further connections are closed until some end",
                metadata: ["limit": "\(limits.maxConnections)"]
            )
        case .opened:
            break
        }
        defer { connections.close() }
        let closed = value.channel.closeFuture
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await base.handle(value: value, logger: logger) }
            // Ends when the connection closes: after the answer, or when the client went away first.
            group.addTask { try? await closed.get() }
            _ = await group.next()
            group.cancelAll()
        }
    }
}

/// The number of connections being served, against a limit.
final class ConnectionCount: Sendable {
    enum Admission { case opened, reachedLimit, refused }

    let limit: Int
    private let count = Mutex(0)

    init(limit: Int) {
        self.limit = max(1, limit)
    }

    /// Counts one more connection unless the limit is reached.
    func open() -> Admission {
        count.withLock { count in
            guard count < limit else { return .refused }
            count += 1
            return count == limit ? .reachedLimit : .opened
        }
    }

    func close() {
        count.withLock { $0 -= 1 }
    }
}
