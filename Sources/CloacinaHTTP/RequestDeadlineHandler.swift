internal import HTTPTypes
internal import Logging
internal import NIOCore
internal import NIOHTTPTypes

/// Closes a connection whose client is too slow, by ``HTTPLimits``: a request header not complete within the
/// header timeout of its first byte, a body not complete within the body timeout of its header, or no request
/// started within the idle timeout. While the API answers a request, nothing is timed.
///
/// It also closes a connection whose client stops sending (closes its side) while a request is being answered: the
/// client went away, and closing cancels the answer (see ``GuardedHTTP1Channel``).
///
/// It sits after the HTTP decoder (it sees request parts and response parts); ``RequestStartTap``, before the
/// decoder, tells it when the first bytes of a request arrive and when the input ends. Event-loop bound, like every
/// channel handler.
final class RequestDeadlineHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    /// What the client is sending.
    private enum Reading {
        case nothing, header, body
    }

    private let limits: HTTPLimits
    private let logger: Logger
    private var reading = Reading.nothing
    /// Requests whose header arrived and whose answer is not written yet.
    private var answering = 0
    private var timer: Scheduled<Void>?
    private var context: ChannelHandlerContext?

    init(limits: HTTPLimits, logger: Logger) {
        self.limits = limits
        self.logger = logger
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        rearm()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
        self.context = nil
    }

    /// Bytes arrived: the start of a request when none was being read.
    func bytesArrived() {
        guard reading == .nothing else { return }
        reading = .header
        rearm()
    }

    /// The client closed its side of the connection: while a request is being answered, nobody is left to read the
    /// answer.
    func inputClosed() {
        guard answering > 0, let context else { return }
        logger.debug("the client went away while its request was being answered; closing the connection")
        context.close(promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head:
            reading = .body
            answering += 1
            rearm()
        case .body:
            break
        case .end:
            reading = .nothing
            rearm()
        }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .end = unwrapOutboundIn(data) {
            answering -= 1
            if answering == 0 && reading == .nothing { rearm() }
        }
        context.write(data, promise: promise)
    }

    /// Starts the timer for what the connection is waiting for now (or none while an answer is being made).
    private func rearm() {
        timer?.cancel()
        timer = nil
        guard let context else { return }
        let limit: (Duration, String)
        switch reading {
        case .header: limit = (limits.headerTimeout, "header")
        case .body: limit = (limits.bodyTimeout, "body")
        case .nothing where answering == 0: limit = (limits.idleTimeout, "idle")
        case .nothing: return
        }
        timer = context.eventLoop.assumeIsolated().scheduleTask(in: TimeAmount(limit.0)) { [self] in
            timer = nil
            logger.debug("closing a slow HTTP connection", metadata: ["timeout": "\(limit.1)"])
            self.context?.close(promise: nil)
        }
    }
}

/// Tells a ``RequestDeadlineHandler`` when bytes arrive, before the HTTP decoder turns them into request parts
/// (so it can time a header that never completes), and when the client closes its side.
final class RequestStartTap: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    private let deadlines: RequestDeadlineHandler

    init(deadlines: RequestDeadlineHandler) {
        self.deadlines = deadlines
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        deadlines.bytesArrived()
        context.fireChannelRead(data)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        context.fireUserInboundEventTriggered(event)
        if case .inputClosed? = event as? ChannelEvent { deadlines.inputClosed() }
    }
}
