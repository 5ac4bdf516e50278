import Foundation

/// Where things are when the tests run: the repository, the build products, the ABI header.
public enum TestEnvironment {
    /// The repository root, found from this file's location.
    public static let repositoryRoot: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.path
    }()

    /// The directory holding the test binary and the other build products (`.build/<triple>/debug`).
    public static let buildDirectory: String = {
        let executable = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? ""
        var url = URL(fileURLWithPath: executable).deletingLastPathComponent()
        // Swift Testing may run the tests from inside the .xctest bundle directory.
        while url.path != "/" && url.lastPathComponent.hasSuffix(".xctest") { url.deleteLastPathComponent() }
        return url.path
    }()

    /// The `cloacina` executable built with the tests.
    public static var cloacinaExecutable: String { "\(buildDirectory)/cloacina" }

    /// The directory holding `cloacina.h`.
    public static var headerDirectory: String { "\(repositoryRoot)/sdk/Sources/CCloacinaABI/include" }

    /// The debug build of an example workflow product, such as `TextAnalytics`.
    public static func exampleLibrary(_ product: String) -> String {
        "\(buildDirectory)/lib\(product).so"
    }

    /// A variable of the environment, nil when unset or empty.
    public static func variable(_ name: String) -> String? {
        guard let value = ProcessInfo.processInfo.environment[name], !value.isEmpty else { return nil }
        return value
    }
}

/// A fresh directory under the system's temporary directory, removed with everything in it on `deinit`.
public final class TemporaryDirectory: Sendable {
    public let path: String

    public init(_ label: String = "test") throws {
        let base = URL(fileURLWithPath: NSTemporaryDirectory())
        let url = base.appendingPathComponent("cloacina-\(label)-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        path = url.path
    }

    /// The path of `name` inside the directory.
    public func file(_ name: String) -> String { "\(path)/\(name)" }

    deinit {
        try? FileManager.default.removeItem(atPath: path)
    }
}

/// The outcome of a command run to completion.
public struct CommandResult: Sendable {
    /// The exit status, or nil when a signal ended the process.
    public var exitStatus: Int32?
    /// The signal that ended the process, if any.
    public var signal: Int32?
    public var standardOutput: String
    public var standardError: String
}

/// Runs `executable` with `arguments` and waits for it, capturing both output streams.
public func runCommand(
    _ executable: String,
    _ arguments: [String],
    environment: [String: String] = [:],
    directory: String? = nil
) throws -> CommandResult {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
    if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
    let output = Pipe()
    let error = Pipe()
    process.standardOutput = output
    process.standardError = error
    process.standardInput = FileHandle.nullDevice
    try process.run()
    // Read both pipes to the end before waiting, so a chatty child cannot block on a full pipe.
    let group = DispatchGroup()
    nonisolated(unsafe) var errorData = Data()
    group.enter()
    DispatchQueue.global().async {
        errorData = error.fileHandleForReading.readDataToEndOfFile()
        group.leave()
    }
    let outputData = output.fileHandleForReading.readDataToEndOfFile()
    group.wait()
    process.waitUntilExit()
    let signalled = process.terminationReason == .uncaughtSignal
    return CommandResult(
        exitStatus: signalled ? nil : process.terminationStatus,
        signal: signalled ? process.terminationStatus : nil,
        standardOutput: String(decoding: outputData, as: UTF8.self),
        standardError: String(decoding: errorData, as: UTF8.self)
    )
}
