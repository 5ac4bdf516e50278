#if canImport(Glibc)
internal import Glibc
#endif

/// Moves ``WorkerMessage`` frames over a worker's protocol socket: sends whole frames, and gathers received bytes
/// into messages, refusing a frame whose declared length is over its type's limit before reading it.
struct WorkerFrames {
    /// The largest length (type byte and payload) accepted for each frame type; a type not named is refused.
    var limits: [WorkerMessage.Kind: Int]
    private var buffer: [UInt8] = []
    private var start = 0
    /// The read buffer, kept between reads.
    private var chunk: [UInt8] = []

    init(limits: [WorkerMessage.Kind: Int]) {
        self.limits = limits
    }

    /// Adds bytes read from the socket.
    mutating func append(_ bytes: UnsafeRawBufferPointer) {
        if start > 0 && start * 2 >= buffer.count {
            buffer.removeFirst(start)
            start = 0
        }
        buffer.append(contentsOf: bytes)
    }

    /// The next complete message, or nil while more bytes are needed. Throws for a frame that breaks the protocol.
    mutating func next() throws(WorkerProtocolError) -> WorkerMessage? {
        let available = buffer.count - start
        guard available >= 5 else { return nil }
        var length = 0
        for offset in 0..<4 { length |= Int(buffer[start + offset]) << (offset * 8) }
        let type = buffer[start + 4]
        guard let kind = WorkerMessage.Kind(rawValue: type) else {
            throw WorkerProtocolError("unknown frame type \(type)")
        }
        guard length >= 1 else { throw WorkerProtocolError("a frame of length 0") }
        let limit = limits[kind] ?? 0
        guard limit > 0 else { throw WorkerProtocolError("a \(kind) frame, which does not go this way") }
        guard length <= limit else {
            throw WorkerProtocolError("a \(kind) frame of \(length) bytes, over its \(limit)-byte limit")
        }
        guard available >= 4 + length else {
            if buffer.capacity < start + 4 + length { buffer.reserveCapacity(start + 4 + length) }
            return nil
        }
        let payload = buffer[(start + 5)..<(start + 4 + length)]
        let message = try WorkerMessage.decode(type: type, payload: payload)
        start += 4 + length
        if start == buffer.count {
            buffer.removeAll(keepingCapacity: buffer.capacity <= 1 << 20)
            start = 0
        }
        return message
    }

    /// Reads from `fd` (blocking) until a whole message arrived; nil at the end of the stream.
    mutating func receive(from fd: Int32) throws(WorkerProtocolError) -> WorkerMessage? {
        while true {
            if let message = try next() { return message }
            let count = read(from: fd, waiting: true)
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else {
                guard buffer.count == start else { throw WorkerProtocolError("the stream ended inside a frame") }
                return nil
            }
        }
    }

    /// One read from the socket `fd` into the buffer (without `waiting`, only what is there): the bytes read, 0 at
    /// the end of the stream, -1 on an error (`errno`; `EAGAIN` when nothing was there).
    mutating func read(from fd: Int32, waiting: Bool) -> Int {
        var chunk = self.chunk.isEmpty ? [UInt8](repeating: 0, count: 64 * 1024) : self.chunk
        self.chunk = []
        defer { self.chunk = chunk }
        let count = chunk.withUnsafeMutableBytes {
            recv(fd, $0.baseAddress, $0.count, waiting ? 0 : Int32(MSG_DONTWAIT))
        }
        if count > 0 { chunk.withUnsafeBytes { append(UnsafeRawBufferPointer(rebasing: $0[0..<count])) } }
        return count
    }

    /// Writes the whole of `frame` to the socket `fd` (blocking), never raising SIGPIPE; returns the `errno` of a
    /// failed write, nil when all was written.
    static func send(_ frame: [UInt8], to fd: Int32) -> Int32? {
        var written = 0
        while written < frame.count {
            let count = frame.withUnsafeBytes {
                Glibc.send(fd, $0.baseAddress! + written, $0.count - written, Int32(MSG_NOSIGNAL))
            }
            if count < 0 {
                if errno == EINTR { continue }
                return errno
            }
            written += count
        }
        return nil
    }
}
