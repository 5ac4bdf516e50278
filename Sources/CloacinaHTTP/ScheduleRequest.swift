internal import Cloacina
internal import Hummingbird

/// The body of `POST /tenants/{tenant}/schedules`: `{"id", "workflow", "cron", "time_zone", "input", "starts_at",
/// "ends_at", "catch_up", "catch_up_cap", "overlap", "paused"}`; `id`, `workflow` and `cron` required, instants as
/// milliseconds since 1970 or ISO 8601 text.
///
/// Checks the shape and the policy names; the cron text, the zone, the bounds and the workflow are the runner's to
/// check (``DefaultRunner/createSchedule(_:)``), so both interfaces refuse the same things the same way.
struct ScheduleRequest: Sendable {
    static let keys: Set<String> = [
        "id", "workflow", "cron", "time_zone", "input", "starts_at", "ends_at", "catch_up", "catch_up_cap", "overlap",
        "paused",
    ]

    var spec: ScheduleSpec

    init(parsing body: [UInt8]) throws(APIError) {
        let object = try SubmitRequest.object(body, expecting: "id, workflow and cron")
        if let unknown = object.keys.filter({ !Self.keys.contains($0) }).sorted().first {
            let expected = Self.keys.sorted().joined(separator: ", ")
            throw APIError(.badRequest, "unknown field \"\(unknown)\" (expected \(expected))")
        }
        let id = try Self.string("id", object, required: true) ?? ""
        let workflow = try Self.string("workflow", object, required: true) ?? ""
        let cron = try Self.string("cron", object, required: true) ?? ""
        spec = ScheduleSpec(id: id, workflow: workflow, cron: cron)
        if let zone = try Self.string("time_zone", object) { spec.timeZone = zone }
        switch object["input"] {
        case nil, .null?: break
        case .object(let input)?: spec.input = JSONValue.object(input).serialized()
        case let other?: throw APIError(.badRequest, "input must be a JSON object, not \(other.kindName)")
        }
        spec.startsAt = try Self.instant("starts_at", object)
        spec.endsAt = try Self.instant("ends_at", object)
        if let name = try Self.string("catch_up", object) {
            guard let policy = CatchUpPolicy(rawValue: name) else {
                throw APIError(.badRequest, "catch_up must be skip, all or none, not \"\(name)\"")
            }
            spec.catchUp = policy
        }
        if let name = try Self.string("overlap", object) {
            guard let policy = OverlapPolicy(rawValue: name) else {
                throw APIError(.badRequest, "overlap must be allow, skip, queue or cancel-previous, not \"\(name)\"")
            }
            spec.overlap = policy
        }
        switch object["catch_up_cap"] {
        case nil, .null?: break
        case let value?:
            guard let cap = value.intValue else {
                throw APIError(.badRequest, "catch_up_cap must be an integer, not \(value.kindName)")
            }
            spec.catchUpCap = cap
        }
        switch object["paused"] {
        case nil, .null?: break
        case .bool(let paused)?: spec.paused = paused
        case let other?: throw APIError(.badRequest, "paused must be true or false, not \(other.kindName)")
        }
    }

    /// The body of `POST …/schedules/{id}/backfill`: `{"from": instant, "through": instant}`.
    static func backfillRange(parsing body: [UInt8]) throws(APIError) -> (from: Timestamp, through: Timestamp) {
        let object = try SubmitRequest.object(body, expecting: "from and through")
        if let unknown = object.keys.filter({ $0 != "from" && $0 != "through" }).sorted().first {
            throw APIError(.badRequest, "unknown field \"\(unknown)\" (expected from and through)")
        }
        guard let from = try instant("from", object), let through = try instant("through", object) else {
            throw APIError(.badRequest, "from and through are required")
        }
        return (from, through)
    }

    private static func string(
        _ key: String,
        _ object: [String: JSONValue],
        required: Bool = false
    ) throws(APIError) -> String? {
        switch object[key] {
        case nil, .null?:
            if required { throw APIError(.badRequest, "\(key) is required") }
            return nil
        case .string(let text)?:
            if required && text.isEmpty { throw APIError(.badRequest, "\(key) must not be empty") }
            return text
        case let other?:
            throw APIError(.badRequest, "\(key) must be a string, not \(other.kindName)")
        }
    }

    private static func instant(_ key: String, _ object: [String: JSONValue]) throws(APIError) -> Timestamp? {
        switch object[key] {
        case nil, .null?:
            return nil
        case .string(let text)?:
            do throws(ScheduleError) {
                return Timestamp(milliseconds: try CronSchedule.instant(text))
            } catch {
                throw APIError(.badRequest, "\(key): \(error.message)")
            }
        case let value?:
            guard let milliseconds = value.intValue else {
                throw APIError(
                    .badRequest,
                    "\(key) must be milliseconds since 1970 or ISO 8601 text, not \(value.kindName)"
                )
            }
            return Timestamp(milliseconds: Int64(milliseconds))
        }
    }
}
