/// How `cloacina schedules … --output json` and `GET /tenants/{t}/schedules…` show a schedule.
extension ScheduleInfo {
    /// `{id, workflow, cron, time_zone, input, starts_at, ends_at, catch_up, catch_up_cap, overlap, paused, source,
    /// created_at, updated_at, fired_through, next_fire_at}`: instants in milliseconds since 1970 (null when unset),
    /// `input` the JSON object each run starts with.
    public var json: JSONValue {
        let record = self.record
        func instant(_ value: Timestamp?) -> JSONValue { value.map { .int(Int($0.milliseconds)) } ?? .null }
        return [
            "id": .string(record.id),
            "workflow": .string(record.workflow),
            "cron": .string(record.cron),
            "time_zone": .string(record.timeZone),
            "input": (try? JSONValue(parsing: record.input)) ?? .object([:]),
            "starts_at": instant(record.startsAt),
            "ends_at": instant(record.endsAt),
            "catch_up": .string(record.catchUp.rawValue),
            "catch_up_cap": .int(record.catchUpCap),
            "overlap": .string(record.overlap.rawValue),
            "paused": .bool(record.paused),
            "source": .string(record.source.rawValue),
            "created_at": instant(record.createdAt),
            "updated_at": instant(record.updatedAt),
            "fired_through": instant(record.firedThrough),
            "next_fire_at": instant(nextFireAt),
        ]
    }
}
