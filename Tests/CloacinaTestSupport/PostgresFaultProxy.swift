import Foundation
import NIOCore
import NIOPosix
import Synchronization

/// A proxy in front of the test PostgreSQL server (on a Unix socket of its own) that breaks one connection at a
/// `COMMIT`, for the tests of the commit-in-doubt path: it forwards bytes both ways unchanged until armed with a
/// ``Fault``; the first connection that then sends a `COMMIT` is broken as the fault says. Later connections (the
/// store's reconnects) pass unharmed. Listening on TCP (``init(forwardingTo:listeningOn:)``), it also gives processes in
/// other network namespaces a way to the server that a link going down cuts.
public final class PostgresFaultProxy: Sendable {
    public enum Fault: Sendable {
        /// Forward the `COMMIT`, let the server run it, and close the connection instead of forwarding its reply:
        /// the transaction committed, but the client cannot know.
        case loseCommitReply
        /// Forward the `COMMIT` and let the server run it, but forward nothing the server sends from then on (not
        /// even the results of the statements sent with it, such as the transaction id), and close once it has
        /// committed: the transaction committed, and the client knows nothing of it.
        case loseEveryReply
        /// Close the connection instead of forwarding the `COMMIT`: the server rolls the transaction back.
        case dropBeforeCommit
    }

    /// The test URL with its host (and, on TCP, its port) replaced by the proxy's.
    public let url: String
    private let directory: TemporaryDirectory
    private let listener: any Channel
    private let armed = Mutex<Fault?>(nil)
    private let injected = Atomic<Int>(0)

    /// A proxy for the server `url` names (a `postgresql://…?host=DIR&port=PORT` URL, as the test script sets),
    /// listening on a Unix socket of its own, or on `tcp` (an address and port) when given.
    public init(forwardingTo url: String, listeningOn tcp: (host: String, port: Int)? = nil) throws {
        let parameters = URLComponents(string: url)?.queryItems ?? []
        guard let host = parameters.first(where: { $0.name == "host" })?.value,
            let port = parameters.first(where: { $0.name == "port" })?.value
        else { throw ProxyError(message: "not a URL with host= and port= parameters: \(url)") }
        let directory = try TemporaryDirectory("pg-proxy")
        self.directory = directory
        self.url =
            tcp.map {
                url.replacingOccurrences(of: "host=\(host)&port=\(port)", with: "host=\($0.host)&port=\($0.port)")
            }
            ?? url.replacingOccurrences(of: "host=\(host)", with: "host=\(directory.path)")
        let server = "\(host)/.s.PGSQL.\(port)"
        let group = MultiThreadedEventLoopGroup.singleton
        let proxy = Box()
        let bootstrap = ServerBootstrap(group: group)
            .childChannelOption(.autoRead, value: false)
            .childChannelInitializer { inbound in
                ClientBootstrap(group: inbound.eventLoop)
                    .connect(unixDomainSocketPath: server)
                    .flatMap { outbound in
                        let connection = Connection(proxy: proxy)
                        return inbound.pipeline.addHandler(Forwarder(connection, towardServer: true, peer: outbound))
                            .flatMap {
                                outbound.pipeline.addHandler(
                                    Forwarder(connection, towardServer: false, peer: inbound)
                                )
                            }
                            .flatMap { inbound.setOption(.autoRead, value: true) }
                    }
            }
        listener =
            try
            (tcp.map { bootstrap.bind(host: $0.host, port: $0.port) }
            ?? bootstrap.bind(unixDomainSocketPath: "\(directory.path)/.s.PGSQL.\(port)"))
            .wait()
        proxy.owner.withLock { $0 = self }
    }

    struct ProxyError: Error, CustomStringConvertible {
        var message: String
        var description: String { message }
    }

    /// Breaks the next connection that sends a `COMMIT` as `fault` says.
    public func arm(_ fault: Fault) {
        armed.withLock { $0 = fault }
    }

    /// How many connections were broken so far.
    public var faultsInjected: Int { injected.load(ordering: .relaxed) }

    public func close() {
        try? listener.close().wait()
    }

    fileprivate func takeFault() -> Fault? {
        let fault = armed.withLock { armed in
            defer { armed = nil }
            return armed
        }
        if fault != nil { injected.add(1, ordering: .relaxed) }
        return fault
    }

    /// The proxy, for its connections (set once it is made).
    fileprivate final class Box: Sendable {
        let owner = Mutex<PostgresFaultProxy?>(nil)
    }

    /// What one proxied connection is doing; touched only on its event loop.
    fileprivate final class Connection: @unchecked Sendable {
        let proxy: Box
        /// The fault this connection is breaking with, once it sent its `COMMIT`.
        var fault: Fault?
        /// The last bytes seen each way, so a `COMMIT` split between two reads is still seen.
        var tails: [Bool: [UInt8]] = [:]

        init(proxy: Box) {
            self.proxy = proxy
        }

        /// Whether `bytes`, after what went before in the same direction, complete a `COMMIT`: the statement's text
        /// in a Query or Parse message, or the name the store prepares it under in a Bind message, one way; the
        /// CommandComplete tag the other; each ending in a NUL.
        func seesCommit(_ bytes: [UInt8], towardServer: Bool) -> Bool {
            let window = (tails[towardServer] ?? []) + bytes
            tails[towardServer] = Array(window.suffix(16))
            let needles = (towardServer ? ["COMMIT\0", "cloacina_commit\0"] : ["COMMIT\0"]).map { Array($0.utf8) }
            return needles.contains { needle in
                window.count >= needle.count
                    && (0...(window.count - needle.count)).contains { Array(window[$0..<$0 + needle.count]) == needle }
            }
        }
    }

    /// Forwards what one side sends to the other, and breaks the connection where the fault says.
    fileprivate final class Forwarder: ChannelInboundHandler, @unchecked Sendable {
        typealias InboundIn = ByteBuffer
        let connection: Connection
        let towardServer: Bool
        let peer: any Channel

        init(_ connection: Connection, towardServer: Bool, peer: any Channel) {
            self.connection = connection
            self.towardServer = towardServer
            self.peer = peer
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let buffer = unwrapInboundIn(data)
            let bytes = Array(buffer.readableBytesView)
            let commit = connection.seesCommit(bytes, towardServer: towardServer)
            if towardServer, commit, connection.fault == nil {
                connection.fault = connection.proxy.owner.withLock { $0 }?.takeFault()
                if connection.fault == .dropBeforeCommit { return breakConnection(context) }
            }
            if !towardServer, commit, connection.fault == .loseCommitReply || connection.fault == .loseEveryReply {
                return breakConnection(context)
            }
            if !towardServer, connection.fault == .loseEveryReply { return }
            peer.writeAndFlush(buffer, promise: nil)
        }

        func channelInactive(context: ChannelHandlerContext) {
            peer.close(promise: nil)
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            breakConnection(context)
        }

        private func breakConnection(_ context: ChannelHandlerContext) {
            context.close(promise: nil)
            peer.close(promise: nil)
        }
    }
}
