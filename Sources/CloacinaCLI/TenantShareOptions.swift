import ArgumentParser
import Cloacina

/// How `cloacina serve` shares its task slots between particular tenants: `--tenant-limit NAME=N` and
/// `--tenant-weight NAME=W`, each repeatable, over the host-wide `--tenant-max-concurrent-tasks`.
struct TenantShareOptions: ParsableArguments {
    @Option(
        name: .customLong("tenant-limit"),
        help: ArgumentHelp(
            "At most N task attempts of tenant NAME run at once, instead of --tenant-max-concurrent-tasks (repeatable).",
            valueName: "name=n"
        )
    )
    var limits: [String] = []

    @Option(
        name: .customLong("tenant-weight"),
        help: ArgumentHelp(
            "Tenant NAME gets W task slots for each one of a tenant of weight 1 when both have ready tasks (repeatable).",
            valueName: "name=w"
        )
    )
    var weights: [String] = []

    func validate() throws {
        _ = try Self.parse(limits, flag: "--tenant-limit")
        _ = try Self.parse(weights, flag: "--tenant-weight")
    }

    /// Sets the tenants' shares in `configuration`, over its own ``DefaultRunner/Configuration/tenantShare``;
    /// `validate` checks each name (it is a usage error naming the flag when the host cannot serve it).
    func apply(
        to configuration: inout DefaultRunner.Configuration,
        validate: (String) throws(CloacinaError) -> Void
    ) throws {
        let limits = try Self.parse(limits, flag: "--tenant-limit")
        let weights = try Self.parse(weights, flag: "--tenant-weight")
        for (flag, values) in [("--tenant-limit", limits), ("--tenant-weight", weights)] {
            for tenant in values.keys.sorted() {
                do {
                    try validate(tenant)
                } catch {
                    throw UsageError(message: "\(flag) \(tenant)=\(values[tenant]!): \(error.message)")
                }
            }
        }
        for tenant in Set(limits.keys).union(weights.keys) {
            var share = configuration.tenantShare
            if let limit = limits[tenant] { share.maxConcurrentTasks = limit }
            if let weight = weights[tenant] { share.weight = weight }
            configuration.tenantShares[tenant] = share
        }
    }

    /// `NAME=N` values, by name: N a positive integer, each name once.
    static func parse(_ values: [String], flag: String) throws -> [String: Int] {
        var parsed: [String: Int] = [:]
        for value in values {
            guard let equals = value.firstIndex(of: "="), equals != value.startIndex,
                let number = Int(value[value.index(after: equals)...]), number > 0
            else {
                throw ValidationError(
                    "\(flag) must be NAME=N with a tenant name and a positive integer, for example acme=2 (got \"\(value)\")"
                )
            }
            let tenant = String(value[..<equals])
            guard parsed.updateValue(number, forKey: tenant) == nil else {
                throw ValidationError("\(flag) names tenant \(tenant) more than once")
            }
        }
        return parsed
    }
}
