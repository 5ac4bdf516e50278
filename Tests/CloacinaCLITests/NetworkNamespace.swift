import CloacinaTestSupport
import Foundation

/// A network namespace of its own for a test host, joined to the test's namespace by a veth pair on a /30 of
/// 10.231.0.0/16: the host's side is ``address``, the test's side ``peerAddress`` (where a ``PostgresFaultProxy``
/// listens for it). ``partition()`` takes the link down, ``heal()`` brings it back; dropping it deletes both.
/// Needs root and iproute2 (`ip`), as CI has.
final class NetworkNamespace: Sendable {
    let name: String
    let address: String
    let peerAddress: String
    private let outside: String

    /// Whether this process may make namespaces (root, with `ip`).
    static var available: Bool { getuid() == 0 && FileManager.default.isExecutableFile(atPath: "/usr/sbin/ip") }

    init() throws {
        let tag = String(UInt32.random(in: 0...UInt32.max), radix: 16)
        let subnet = Int.random(in: 0..<16_384)
        let base = subnet * 4
        name = "cloacina-\(tag)"
        outside = "clo\(tag)"
        peerAddress = "10.231.\(base / 256).\(base % 256 + 1)"
        address = "10.231.\(base / 256).\(base % 256 + 2)"
        let inside = "cli\(tag)"
        try Self.ip(["netns", "add", name])
        do {
            try Self.ip(["link", "add", outside, "type", "veth", "peer", "name", inside])
            try Self.ip(["link", "set", inside, "netns", name])
            try Self.ip(["addr", "add", "\(peerAddress)/30", "dev", outside])
            try Self.ip(["link", "set", outside, "up"])
            try Self.ip(["-n", name, "addr", "add", "\(address)/30", "dev", inside])
            try Self.ip(["-n", name, "link", "set", inside, "up"])
            try Self.ip(["-n", name, "link", "set", "lo", "up"])
        } catch {
            _ = try? Self.ip(["link", "del", outside])
            _ = try? Self.ip(["netns", "del", name])
            throw error
        }
    }

    deinit {
        _ = try? Self.ip(["link", "del", outside])
        _ = try? Self.ip(["netns", "del", name])
    }

    /// Cuts the namespace off: packets either way are lost (connections hang rather than fail at once).
    func partition() throws { try Self.ip(["link", "set", outside, "down"]) }

    func heal() throws { try Self.ip(["link", "set", outside, "up"]) }

    private static func ip(_ arguments: [String]) throws {
        let result = try runCommand("/usr/sbin/ip", arguments)
        guard result.exitStatus == 0 else {
            throw DaemonProcess.DaemonError(message: "ip \(arguments.joined(separator: " ")): \(result.standardError)")
        }
    }
}
