import ArgumentParser
import Cloacina

/// `cloacina hosts`: the hosts serving a tenant, as they announce themselves in its store.
struct HostsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hosts",
        abstract: "List the hosts serving a tenant: id, address, version, capacity, executions owned, last heartbeat.",
        discussion: """
            Every `cloacina serve` writes an entry into each tenant store it serves and refreshes it twice a lease; \
            an entry not refreshed within a lease shows as not live, and is forgotten 10 minutes later. On SQLite \
            the entry is the one host holding the data directory's lock.
            """
    )

    @Option(help: "Output format: text or json.")
    var output: OutputFormat = .text

    @OptionGroup var tenantOptions: TenantOptions

    func run() async throws {
        let (opened, tenant) = try await ExecutionsCommand.openRunner(tenantOptions)
        guard let runner = opened else {
            print(output == .json ? #"{"hosts": []}"# : "no host has served tenant \(tenant)")
            return
        }
        let hosts: [HostRecord]
        do {
            hosts = try await runner.hosts()
        } catch {
            await runner.shutdown(timeout: .zero)
            throw RunCommand.cliError(error)
        }
        await runner.shutdown(timeout: .zero)
        let now = Timestamp.now()
        switch output {
        case .json:
            let json: JSONValue = ["tenant": .string(tenant), "hosts": .array(hosts.map { $0.json(at: now) })]
            print(json.serializedString(pretty: true))
        case .text:
            guard !hosts.isEmpty else {
                print("no host serves tenant \(tenant)")
                return
            }
            let rows = hosts.map { host in
                [
                    host.id, host.address.isEmpty ? "-" : host.address, host.version, "\(host.capacity)",
                    "\(host.owned)", ExecutionText.iso8601(host.heartbeatAt), host.isLive(at: now) ? "yes" : "no",
                ]
            }
            print(
                ExecutionText.table(
                    ["HOST", "ADDRESS", "VERSION", "CAPACITY", "OWNED", "LAST HEARTBEAT", "LIVE"],
                    rows
                ),
                terminator: ""
            )
        }
    }
}
