import CloacinaJSON
import CloacinaTestSupport
import Foundation
import Testing

/// A plain TCP connection to a daemon, for what curl cannot do: send half a request, hold a connection open, and
/// see the server close it.
final class RawConnection {
    let fd: Int32

    /// Connects to `127.0.0.1:port`. Reads give up after `seconds` (only when something is broken: tests wait for
    /// the server to close or answer, never for the time to pass).
    init(port: Int, seconds: Int = 60) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw DaemonProcess.DaemonError(message: "socket: \(errno)") }
        var timeout = timeval(tv_sec: seconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = UInt16(port).bigEndian
        let connected = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
            }
        }
        guard connected else {
            close(fd)
            throw DaemonProcess.DaemonError(message: "connect: \(errno)")
        }
    }

    deinit { close(fd) }

    func send(_ text: String) {
        let bytes = Array(text.utf8)
        _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
    }

    /// What one read returns: bytes, the end of the stream (the server closed), or an error (a timeout: broken).
    enum Read: Equatable {
        case bytes([UInt8])
        case closed
        case failed(Int32)
    }

    func read() -> Read {
        var buffer = [UInt8](repeating: 0, count: 65_536)
        let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        if count > 0 { return .bytes(Array(buffer[0..<count])) }
        // A reset is how a close with unread input arrives: the server closed too.
        if count == 0 || errno == ECONNRESET { return .closed }
        return .failed(errno)
    }

    /// Reads until the server closes the connection; the bytes it sent first.
    func readUntilClosed() -> (bytes: String, closed: Bool) {
        var received: [UInt8] = []
        while true {
            switch read() {
            case .bytes(let bytes): received += bytes
            case .closed: return (String(decoding: received, as: UTF8.self), true)
            case .failed: return (String(decoding: received, as: UTF8.self), false)
            }
        }
    }

    typealias Response = (status: Int, headers: [String: String], body: String)

    /// Reads one response (its header and a `content-length` body); nil if the server closed first.
    func readResponse() -> Response? {
        var received: [UInt8] = []
        let separator = Array("\r\n\r\n".utf8)
        while true {
            if let end = received.firstRange(of: separator) {
                let head = String(decoding: received[..<end.lowerBound], as: UTF8.self)
                var lines = head.components(separatedBy: "\r\n")
                let status = Int(lines.removeFirst().split(separator: " ")[1]) ?? 0
                var headers: [String: String] = [:]
                for line in lines {
                    guard let colon = line.firstIndex(of: ":") else { continue }
                    headers[line[..<colon].lowercased()] = line[line.index(after: colon)...]
                        .trimmingCharacters(in: .whitespaces)
                }
                let length = Int(headers["content-length"] ?? "0") ?? 0
                if received.count - end.upperBound >= length {
                    let body = String(decoding: received[end.upperBound..<(end.upperBound + length)], as: UTF8.self)
                    return (status, headers, body)
                }
            }
            guard case .bytes(let bytes) = read() else { return nil }
            received += bytes
        }
    }

    /// Sends `method path` with an optional JSON body on this connection and reads the answer.
    func request(_ method: String, _ path: String, body: String? = nil) -> Response? {
        var text = "\(method) \(path) HTTP/1.1\r\nhost: localhost\r\n"
        if let body {
            text += "content-type: application/json\r\ncontent-length: \(body.utf8.count)\r\n\r\n\(body)"
        } else {
            text += "\r\n"
        }
        send(text)
        return readResponse()
    }
}

/// `cloacina serve` against slow and greedy clients, too many submissions, and tenants whose store breaks or goes.
@Suite("cloacina serve limits and tenant failures, end to end")
struct ServeLimitsTests {
    @Test("a half-sent header, a half-sent body and an idle connection are closed after their timeouts")
    func slowClients() throws {
        let fixture = try ServeCommandTests.Fixture("serve-slow")
        let daemon = try DaemonProcess(
            drop: fixture.drop,
            data: fixture.data,
            arguments: [
                "--tenants", "acme", "--http-header-timeout", "1", "--http-body-timeout", "1",
                "--http-idle-timeout", "2",
            ]
        )
        let header = try RawConnection(port: daemon.port)
        header.send("GET /health HTTP/1.1\r\nhost: localhost\r\n")
        let body = try RawConnection(port: daemon.port)
        body.send("POST /tenants/acme/workflows HTTP/1.1\r\nhost: localhost\r\ncontent-length: 100\r\n\r\n{\"work")
        let idle = try RawConnection(port: daemon.port)
        for connection in [header, body, idle] {
            let (bytes, closed) = connection.readUntilClosed()
            #expect(closed, "the server did not close the connection")
            #expect(bytes.isEmpty, "\(bytes)")
        }
        // A client that sends whole requests is served, on one connection, then closed once idle.
        let polite = try RawConnection(port: daemon.port)
        for _ in 0..<2 {
            let answer = polite.request("GET", "/health")
            #expect(answer?.status == 200)
        }
        #expect(polite.readUntilClosed().closed)
        daemon.signal(SIGTERM)
        #expect(daemon.waitForExit() == 0)
    }

    @Test("connections beyond the limit are closed at once; /health answers on a fresh one once others close")
    func connectionLimit() throws {
        let fixture = try ServeCommandTests.Fixture("serve-connections")
        let daemon = try DaemonProcess(
            drop: fixture.drop,
            data: fixture.data,
            arguments: ["--tenants", "acme", "--http-max-connections", "2", "--http-idle-timeout", "600"]
        )
        // Two clients hold their connections open after an answer (so the server counts them).
        var held = try (0..<2).map { _ in try RawConnection(port: daemon.port) }
        for connection in held { #expect(connection.request("GET", "/health")?.status == 200) }
        #expect(daemon.waitForLog("HTTP connection limit reached"))

        let refused = try RawConnection(port: daemon.port)
        refused.send("GET /health HTTP/1.1\r\nhost: localhost\r\n\r\n")
        let (bytes, closed) = refused.readUntilClosed()
        #expect(closed && bytes.isEmpty, "\(bytes)")

        // One client leaves; the server sees it close soon after, and a fresh connection is served again.
        held.removeFirst()
        var answered: Int?
        for _ in 0..<10_000 where answered == nil {
            answered = try RawConnection(port: daemon.port).request("GET", "/health")?.status
        }
        #expect(answered == 200)
        #expect(held.first?.request("GET", "/health")?.status == 200)
        daemon.signal(SIGTERM)
        #expect(daemon.waitForExit() == 0)
    }

    @Test("submissions beyond --max-pending-executions get 503 with Retry-After; capacity returns as they end")
    func admission() throws {
        let fixture = try ServeCommandTests.Fixture("serve-admission")
        try fixture.build("v1", version: "1.0.0")
        let daemon = try DaemonProcess(
            drop: fixture.drop,
            data: fixture.data,
            arguments: ["--tenants", "acme", "--max-pending-executions", "2"]
        )
        let held = try (0..<2).map { _ in try ServeCommandTests.submit(daemon) }
        fixture.awaitStarted(2)
        let connection = try RawConnection(port: daemon.port)
        let refused = connection.request("POST", "/tenants/acme/workflows", body: #"{"workflow_name": "flow"}"#)
        #expect(refused?.status == 503)
        #expect(refused?.headers["retry-after"] == "1")
        #expect(refused?.body.contains("unfinished executions") == true, "\(refused?.body ?? "")")
        // Reads are not limited.
        #expect(try daemon.request("GET", "/tenants/acme/executions").status == 200)

        fixture.release(3)
        for id in held { #expect(try ServeCommandTests.result(daemon, id)["status"] == "Completed") }
        // The runner forgets an ended execution just after its waiters hear of the end.
        var accepted: Int?
        for _ in 0..<10_000 where accepted != 202 {
            accepted = try daemon.request("POST", "/tenants/acme/workflows", body: #"{"workflow_name": "flow"}"#)
                .status
        }
        #expect(accepted == 202)
        fixture.awaitStarted(1)
        daemon.signal(SIGTERM)
        #expect(daemon.waitForExit() == 0)
    }

    static func tenant(_ arguments: [String]) throws -> CommandResult {
        try runCommand(TestEnvironment.cloacinaExecutable, ["tenant"] + arguments)
    }

    @Test("a tenant whose SQLite file is corrupt is out of service alone: /ready, /tenants, metrics, 503; reload heals")
    func corruptTenantFile() throws {
        let fixture = try ServeCommandTests.Fixture("serve-corrupt")
        try fixture.build("v1", version: "1.0.0")
        for name in ["acme", "globex"] {
            #expect(try Self.tenant(["create", name, "--data-dir", fixture.data]).exitStatus == 0)
        }
        let file = "\(fixture.data)/globex.db"
        try Data(repeating: UInt8(ascii: "x"), count: 8192).write(to: URL(fileURLWithPath: file))
        let daemon = try DaemonProcess(
            drop: fixture.drop,
            data: fixture.data,
            arguments: ["--tenants", "acme,globex"]
        )
        #expect(daemon.count("tenant out of service") == 1, "\(daemon.logText)")
        let (ready, readiness) = try daemon.request("GET", "/ready")
        #expect(ready == 200)
        #expect(readiness["unavailable_tenants"] == ["globex"])
        let (_, listing) = try daemon.request("GET", "/tenants")
        let tenants = listing["tenants"]?.arrayValue ?? []
        #expect(tenants.map { $0["tenant"] } == ["acme", "globex"])
        #expect(tenants.map { $0["status"] } == ["serving", "unavailable"])
        let (_, metrics) = try daemon.requestText("GET", "/metrics")
        #expect(metrics.contains(#"cloacina_tenant_unavailable{tenant="globex"} 1"#), "\(metrics)")

        let (status, answer) = try daemon.request(
            "POST",
            "/tenants/globex/workflows",
            body: #"{"workflow_name": "flow"}"#
        )
        #expect(status == 503)
        let message = answer["error"]?.stringValue ?? ""
        #expect(message.contains("globex") && message.contains("out of service"), "\(message)")
        #expect(!message.contains(fixture.data) && !message.contains("not a database"), "\(message)")

        fixture.release(1)
        #expect(try ServeCommandTests.result(daemon, try ServeCommandTests.submit(daemon))["status"] == "Completed")
        fixture.awaitStarted(1)

        // Repaired (here: removed and created again), the tenant is back after a reload.
        #expect(try Self.tenant(["remove", "globex", "--data-dir", fixture.data]).exitStatus == 0)
        #expect(try Self.tenant(["create", "globex", "--data-dir", fixture.data]).exitStatus == 0)
        #expect(try daemon.request("POST", "/admin/reload").status == 200)
        #expect(try daemon.request("GET", "/ready").json["unavailable_tenants"] == [])
        fixture.release(1)
        let healed = try ServeCommandTests.result(
            daemon,
            try ServeCommandTests.submit(daemon, tenant: "globex"),
            tenant: "globex"
        )
        #expect(healed["status"] == "Completed")
        fixture.awaitStarted(1)
        daemon.signal(SIGTERM)
        #expect(daemon.waitForExit() == 0)
    }

    @Test("removing a tenant that --all-tenants serves: 404 unknown tenant, its runner closed, the others unaffected")
    func removedTenant() throws {
        let fixture = try ServeCommandTests.Fixture("serve-removed")
        try fixture.build("v1", version: "1.0.0")
        for name in ["acme", "initech"] {
            #expect(try Self.tenant(["create", name, "--data-dir", fixture.data]).exitStatus == 0)
        }
        let daemon = try DaemonProcess(drop: fixture.drop, data: fixture.data, arguments: ["--all-tenants"])
        fixture.release(2)
        for name in ["acme", "initech"] {
            let id = try ServeCommandTests.submit(daemon, tenant: name)
            #expect(try ServeCommandTests.result(daemon, id, tenant: name)["status"] == "Completed")
        }
        fixture.awaitStarted(2)
        #expect(try Self.tenant(["remove", "initech", "--data-dir", fixture.data]).exitStatus == 0)
        for (method, path, body) in [
            ("GET", "/tenants/initech/executions", nil),
            ("POST", "/tenants/initech/workflows", #"{"workflow_name": "flow"}"#),
        ] {
            let (status, answer) = try daemon.request(method, path, body: body)
            #expect(status == 404, "\(answer)")
            #expect(answer["error"] == #"unknown tenant "initech""#)
        }
        #expect(daemon.waitForLog("tenant removed; its runner is closed"))
        #expect(!FileManager.default.fileExists(atPath: "\(fixture.data)/initech.db"))
        #expect(try daemon.request("GET", "/tenants/acme/executions").json["total"] == 1)
        daemon.signal(SIGTERM)
        #expect(daemon.waitForExit() == 0)
    }
}

@Suite("cloacina serve tenant failures on PostgreSQL")
struct ServePostgresTenantFailureTests {
    static var url: String? { TestEnvironment.variable("CLOACINA_TEST_POSTGRES_URL") }

    @Test(
        "a schema_migrations row from the future takes out that tenant only; a dropped schema answers 404, no SQL",
        .enabled(if: url != nil, "needs CLOACINA_TEST_POSTGRES_URL")
    )
    func schemaStates() throws {
        let url = try #require(Self.url)
        let fixture = try ServeCommandTests.Fixture("serve-pg-failures")
        try fixture.build("v1", version: "1.0.0")
        let suffix = String(UInt32.random(in: 0...UInt32.max), radix: 16)
        let (acme, globex) = ("fail_a_\(suffix)", "fail_b_\(suffix)")
        defer {
            for schema in [acme, globex] { _ = try? ServeLimitsTests.tenant(["remove", schema, "--database", url]) }
        }
        for schema in [acme, globex] {
            #expect(try ServeLimitsTests.tenant(["create", schema, "--database", url]).exitStatus == 0)
        }
        let future = try runCommand(
            "/usr/bin/env",
            ["psql", url, "-v", "ON_ERROR_STOP=1", "-c", "INSERT INTO \(acme).schema_migrations VALUES (999, 0)"]
        )
        #expect(future.exitStatus == 0, "\(future.standardError)")

        let daemon = try DaemonProcess(
            drop: fixture.drop,
            data: fixture.data,
            arguments: ["--database", url, "--tenants", "\(acme),\(globex)"]
        )
        #expect(try daemon.request("GET", "/ready").json["unavailable_tenants"] == .array([.string(acme)]))
        let (status, answer) = try daemon.request("GET", "/tenants/\(acme)/executions")
        #expect(status == 503)
        #expect(answer["error"]?.stringValue?.contains(acme) == true)
        fixture.release(1)
        let served = try ServeCommandTests.submit(daemon, tenant: globex)
        #expect(try ServeCommandTests.result(daemon, served, tenant: globex)["status"] == "Completed")
        fixture.awaitStarted(1)

        // The served tenant's schema goes away under the host.
        #expect(try ServeLimitsTests.tenant(["remove", globex, "--database", url]).exitStatus == 0)
        let (gone, body) = try daemon.requestText("GET", "/tenants/\(globex)/executions")
        #expect(gone == 404, "\(body)")
        #expect(!body.contains("relation") && !body.contains("SELECT"), "\(body)")
        #expect(daemon.waitForLog("tenant removed; its runner is closed"))
        daemon.signal(SIGTERM)
        #expect(daemon.waitForExit() == 0)
    }
}
