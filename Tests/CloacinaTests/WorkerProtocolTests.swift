import Logging
import Testing

@testable import Cloacina

@Suite("The worker protocol's frames")
struct WorkerProtocolTests {
    static let everyKind: [WorkerMessage.Kind: Int] = [
        .hello: 1 << 16, .call: 1 << 16, .cancel: 16, .ready: 64, .loadFailed: 1 << 16, .log: 1 << 16,
        .result: 1 << 16,
    ]

    /// Feeds `bytes` in pieces of `step` and returns every message decoded.
    static func decode(
        _ bytes: [UInt8],
        step: Int,
        limits: [WorkerMessage.Kind: Int] = everyKind
    ) throws(WorkerProtocolError) -> [WorkerMessage] {
        var frames = WorkerFrames(limits: limits)
        var messages: [WorkerMessage] = []
        var offset = 0
        while offset < bytes.count {
            let end = min(offset + step, bytes.count)
            bytes[offset..<end].withUnsafeBytes { frames.append($0) }
            offset = end
            while let message = try frames.next() { messages.append(message) }
        }
        return messages
    }

    @Test("every message reads back as written, whole or a byte at a time")
    func roundTrip() throws {
        let messages: [WorkerMessage] = [
            .hello(
                .init(
                    version: WorkerMessage.version,
                    imagePath: "/cache/ab.so",
                    sha256: String(repeating: "a", count: 64),
                    limits: WorkerLimits(addressSpaceBytes: 1 << 30, cpuSecondsPerCall: nil, openFiles: 64)
                )
            ),
            .call(
                .init(
                    id: 7,
                    attempt: 2,
                    logLevel: .notice,
                    maximumOutputBytes: 1 << 20,
                    cancelled: true,
                    workflow: "w",
                    task: "t",
                    tenant: "acme",
                    executionID: "e",
                    context: Array(#"{"ü": 1}"#.utf8)
                )
            ),
            .cancel(id: 7),
            .ready(version: 1, pid: 1234),
            .loadFailed("no such file"),
            .log(id: 7, level: .critical, message: "line"),
            .result(id: 7, .succeeded(output: nil)),
            .result(id: 7, .succeeded(output: [1, 2, 3])),
            .result(id: 7, .failed("f")),
            .result(id: 7, .retryable("r")),
            .result(id: 7, .badInput("b")),
        ]
        let bytes = messages.flatMap { $0.frame() }
        #expect(try Self.decode(bytes, step: bytes.count) == messages)
        #expect(try Self.decode(bytes, step: 1) == messages)
    }

    @Test("malformed frames are refused with what is wrong, a too long one before its payload arrives")
    func malformed() {
        func refusal(_ bytes: [UInt8], limits: [WorkerMessage.Kind: Int] = WorkerProtocolTests.everyKind) -> String? {
            do {
                _ = try Self.decode(bytes, step: bytes.count, limits: limits)
                return nil
            } catch {
                return error.description
            }
        }
        #expect(refusal([1, 0, 0, 0, 0x99]) == "unknown frame type 153")
        #expect(refusal([0, 0, 0, 0, 0x44]) == "a frame of length 0")
        #expect(
            refusal([0xff, 0xff, 0xff, 0x7f, 0x44]) == "a result frame of 2147483647 bytes, over its 65536-byte limit"
        )
        #expect(refusal([5, 0, 0, 0, 0x44, 1, 2, 3, 4]) == "result frame ends inside a field")
        #expect(refusal([2, 0, 0, 0, 0x03, 0]) == "cancel frame ends inside a field")
        #expect(refusal(WorkerMessage.cancel(id: 1).frame() + [0], limits: [.cancel: 16]) == nil)
        var trailing = WorkerMessage.cancel(id: 1).frame()
        trailing[0] += 1
        trailing.append(9)
        #expect(refusal(trailing) == "cancel frame has 1 bytes after its last field")
        #expect(
            refusal(
                WorkerMessage.call(
                    .init(
                        id: 1,
                        attempt: 1,
                        logLevel: .info,
                        maximumOutputBytes: 1,
                        cancelled: false,
                        workflow: "",
                        task: "",
                        tenant: "",
                        executionID: "",
                        context: []
                    )
                ).frame(),
                limits: [.result: 64]
            ) == "a call frame, which does not go this way"
        )
        var oversized = WorkerMessage.result(id: 1, .failed("x")).frame()
        oversized[17] = 0x7f
        #expect(refusal(oversized)?.hasSuffix("bytes, longer than the frame") == true)
    }
}
