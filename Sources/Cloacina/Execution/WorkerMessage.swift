internal import Logging

/// The messages a host and a task worker process (see ``ProcessTaskInvoker``, ``TaskWorker``) exchange over the
/// worker's protocol socket, and their binary form.
///
/// A frame is a little-endian `UInt32` length (of what follows it), a type byte, and the payload: integers
/// little-endian, strings and byte blobs as a `UInt32` length and the bytes. Each side treats the other's frames as
/// untrusted input: lengths are bounded per type before anything is allocated, every field is checked, trailing
/// bytes are refused, and a frame that fails any check ends the conversation (the host kills the worker and fails
/// the attempt; the worker exits).
///
/// The host speaks first (``hello``); the worker answers ``ready`` or ``loadFailed``. Then, one call at a time:
/// ``call``, any number of ``log`` (and ``cancel`` the other way), one ``result``.
enum WorkerMessage: Sendable, Equatable {
    /// Host → worker, first: the package image to open and the limits to apply before opening it.
    case hello(Hello)
    /// Host → worker: run one attempt.
    case call(Call)
    /// Host → worker: the call `id` should stop (`host->is_cancelled` turns true).
    case cancel(id: UInt64)
    /// Worker → host: the package is loaded and the worker waits for calls.
    case ready(version: UInt16, pid: Int32)
    /// Worker → host: the package could not be loaded here; the worker exits.
    case loadFailed(String)
    /// Worker → host: a `host->log` line of call `id`.
    case log(id: UInt64, level: Logger.Level, message: String)
    /// Worker → host: how call `id` ended.
    case result(id: UInt64, TaskResult)

    /// The protocol this build speaks; a worker refuses a hello of another version.
    static let version: UInt16 = 1
    /// The first bytes of a hello, so a worker started by mistake on some other stream fails at once.
    static let magic: [UInt8] = Array("CLOACINA-WORKER".utf8)

    struct Hello: Sendable, Equatable {
        var version: UInt16
        /// The content-addressed package image, and the SHA-256 it must have.
        var imagePath: String
        var sha256: String
        var limits: WorkerLimits
    }

    struct Call: Sendable, Equatable {
        var id: UInt64
        var attempt: UInt32
        /// The least level of log lines the host keeps (the worker drops lower ones instead of sending them).
        var logLevel: Logger.Level
        /// The largest output the host accepts; the worker fails a call whose output is larger.
        var maximumOutputBytes: UInt32
        /// Whether the call was cancelled before it was sent (`host->is_cancelled` is true from the start).
        var cancelled: Bool
        var workflow: String
        var task: String
        var tenant: String
        var executionID: String
        var context: [UInt8]
    }

    /// Frame types.
    enum Kind: UInt8, Sendable {
        case hello = 1
        case call = 2
        case cancel = 3
        case ready = 0x41
        case loadFailed = 0x42
        case log = 0x43
        case result = 0x44
    }

    /// The largest frame (length field) the worker accepts from the host, and the host sends.
    static let largestCall = Int(Int32.max)
    /// The longest log line or load error a worker sends; longer ones are cut.
    static let longestText = 16 * 1024

    /// The longest failure message a worker sends for a call whose output may have `outputLimit` bytes.
    static func longestMessage(outputLimit: Int) -> Int {
        min(max(outputLimit, 64 * 1024), Int(Int32.max) - 64)
    }

    var kind: Kind {
        switch self {
        case .hello: return .hello
        case .call: return .call
        case .cancel: return .cancel
        case .ready: return .ready
        case .loadFailed: return .loadFailed
        case .log: return .log
        case .result: return .result
        }
    }

    // MARK: Encoding

    /// The whole frame: length, type, payload.
    func frame() -> [UInt8] {
        var writer = Writer()
        switch self {
        case .hello(let hello):
            writer.bytes(Self.magic)
            writer.integer(hello.version)
            writer.text(hello.imagePath)
            writer.text(hello.sha256)
            writer.integer(UInt64(hello.limits.addressSpaceBytes ?? 0))
            writer.integer(UInt64(hello.limits.cpuSecondsPerCall ?? 0))
            writer.integer(UInt64(hello.limits.openFiles ?? 0))
        case .call(let call):
            writer.integer(call.id)
            writer.integer(call.attempt)
            writer.integer(Self.code(call.logLevel))
            writer.integer(call.maximumOutputBytes)
            writer.integer(UInt8(call.cancelled ? 1 : 0))
            writer.text(call.workflow)
            writer.text(call.task)
            writer.text(call.tenant)
            writer.text(call.executionID)
            writer.bytes(call.context)
        case .cancel(let id):
            writer.integer(id)
        case .ready(let version, let pid):
            writer.integer(version)
            writer.integer(UInt32(bitPattern: pid))
        case .loadFailed(let message):
            writer.text(Self.cut(message))
        case .log(let id, let level, let message):
            writer.integer(id)
            writer.integer(Self.code(level))
            writer.text(Self.cut(message))
        case .result(let id, let result):
            writer.integer(id)
            switch result {
            case .succeeded(nil): writer.integer(UInt8(0))
            case .succeeded(let output?):
                writer.integer(UInt8(1))
                writer.bytes(output)
            case .failed(let message):
                writer.integer(UInt8(2))
                writer.text(message)
            case .retryable(let message):
                writer.integer(UInt8(3))
                writer.text(message)
            case .badInput(let message):
                writer.integer(UInt8(4))
                writer.text(message)
            }
        }
        var frame: [UInt8] = []
        frame.reserveCapacity(writer.buffer.count + 5)
        let length = UInt32(writer.buffer.count + 1)
        for shift in stride(from: 0, to: 32, by: 8) { frame.append(UInt8(truncatingIfNeeded: length >> UInt32(shift))) }
        frame.append(kind.rawValue)
        frame += writer.buffer
        return frame
    }

    private static func code(_ level: Logger.Level) -> UInt8 {
        UInt8(Logger.Level.allCases.firstIndex(of: level) ?? 0)
    }

    /// `text` cut to ``longestText`` bytes (at a character boundary).
    private static func cut(_ text: String) -> String {
        guard text.utf8.count > longestText else { return text }
        var end = text.utf8.index(text.utf8.startIndex, offsetBy: longestText)
        while end > text.startIndex && !text.indices.contains(end) { end = text.utf8.index(before: end) }
        return String(text[..<end]) + "…"
    }

    private struct Writer {
        var buffer: [UInt8] = []

        mutating func integer<T: FixedWidthInteger & UnsignedInteger>(_ value: T) {
            for shift in stride(from: 0, to: T.bitWidth, by: 8) {
                buffer.append(UInt8(truncatingIfNeeded: value >> T(shift)))
            }
        }

        mutating func bytes(_ bytes: [UInt8]) {
            integer(UInt32(bytes.count))
            buffer += bytes
        }

        mutating func text(_ text: String) {
            bytes(Array(text.utf8))
        }
    }

    // MARK: Decoding

    /// Decodes the payload of a frame of type `type`; throws a message saying what is wrong with it.
    static func decode(type: UInt8, payload: ArraySlice<UInt8>) throws(WorkerProtocolError) -> WorkerMessage {
        guard let kind = Kind(rawValue: type) else { throw WorkerProtocolError("unknown frame type \(type)") }
        var reader = Reader(remaining: payload, kind: kind)
        let message: WorkerMessage
        switch kind {
        case .hello:
            guard try reader.bytes() == magic else { throw WorkerProtocolError("not a Cloacina worker hello") }
            let version: UInt16 = try reader.integer()
            let imagePath = try reader.text()
            let sha256 = try reader.text()
            let addressSpace: UInt64 = try reader.integer()
            let cpu: UInt64 = try reader.integer()
            let files: UInt64 = try reader.integer()
            func limit(_ value: UInt64) -> Int? { value == 0 ? nil : Int(clamping: value) }
            message = .hello(
                Hello(
                    version: version,
                    imagePath: imagePath,
                    sha256: sha256,
                    limits: WorkerLimits(
                        addressSpaceBytes: limit(addressSpace),
                        cpuSecondsPerCall: limit(cpu),
                        openFiles: limit(files)
                    )
                )
            )
        case .call:
            message = .call(
                Call(
                    id: try reader.integer(),
                    attempt: try reader.integer(),
                    logLevel: try reader.level(),
                    maximumOutputBytes: try reader.integer(),
                    cancelled: try reader.integer() as UInt8 != 0,
                    workflow: try reader.text(),
                    task: try reader.text(),
                    tenant: try reader.text(),
                    executionID: try reader.text(),
                    context: try reader.bytes()
                )
            )
        case .cancel:
            message = .cancel(id: try reader.integer())
        case .ready:
            let version: UInt16 = try reader.integer()
            let pid: UInt32 = try reader.integer()
            message = .ready(version: version, pid: Int32(bitPattern: pid))
        case .loadFailed:
            message = .loadFailed(try reader.text())
        case .log:
            message = .log(id: try reader.integer(), level: try reader.level(), message: try reader.text())
        case .result:
            let id: UInt64 = try reader.integer()
            let code: UInt8 = try reader.integer()
            let result: TaskResult
            switch code {
            case 0: result = .succeeded(output: nil)
            case 1: result = .succeeded(output: try reader.bytes())
            case 2: result = .failed(try reader.text())
            case 3: result = .retryable(try reader.text())
            case 4: result = .badInput(try reader.text())
            default: throw WorkerProtocolError("result frame with unknown status \(code)")
            }
            message = .result(id: id, result)
        }
        guard reader.remaining.isEmpty else {
            throw WorkerProtocolError("\(kind) frame has \(reader.remaining.count) bytes after its last field")
        }
        return message
    }

    private struct Reader {
        var remaining: ArraySlice<UInt8>
        let kind: Kind

        mutating func integer<T: FixedWidthInteger & UnsignedInteger>() throws(WorkerProtocolError) -> T {
            let size = T.bitWidth / 8
            guard remaining.count >= size else { throw WorkerProtocolError("\(kind) frame ends inside a field") }
            var value = T.zero
            for (offset, byte) in remaining.prefix(size).enumerated() { value |= T(byte) << T(offset * 8) }
            remaining = remaining.dropFirst(size)
            return value
        }

        mutating func bytes() throws(WorkerProtocolError) -> [UInt8] {
            let count = Int(try integer() as UInt32)
            guard remaining.count >= count else {
                throw WorkerProtocolError("\(kind) frame has a field of \(count) bytes, longer than the frame")
            }
            defer { remaining = remaining.dropFirst(count) }
            return Array(remaining.prefix(count))
        }

        mutating func text() throws(WorkerProtocolError) -> String {
            String(decoding: try bytes(), as: UTF8.self)
        }

        mutating func level() throws(WorkerProtocolError) -> Logger.Level {
            let code = Int(try integer() as UInt8)
            guard code < Logger.Level.allCases.count else {
                throw WorkerProtocolError("\(kind) frame has an unknown log level \(code)")
            }
            return Logger.Level.allCases[code]
        }
    }
}

/// A frame that breaks the worker protocol, and what is wrong with it.
struct WorkerProtocolError: Error, Sendable, CustomStringConvertible {
    let description: String

    init(_ description: String) {
        self.description = description
    }
}
