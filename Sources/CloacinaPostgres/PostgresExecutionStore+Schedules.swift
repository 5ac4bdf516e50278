internal import CloacinaSchedule
public import CloacinaStorage

/// A tenant's cron schedules (``ScheduleRecord``), in its schema's `schedules` table, and the executions their fires
/// insert. Every change tells the other hosts (`NOTIFY … 'schedules'`, delivered when it commits), so their
/// schedulers read the schedules again.
///
/// A fire is one transaction: the schedule's row is updated first (which locks it, so two hosts firing the same
/// schedule take turns), then the executions are inserted with their fire times; the unique index on (schedule,
/// fire time) refuses a second execution for a fire time another host recorded first, aborting the whole fire.
extension PostgresExecutionStore {
    private var schedulesTable: String { "\(schema.quoted).schedules" }

    private static let scheduleColumns = """
        id, workflow, cron, time_zone, input, starts_at, ends_at, catch_up, catch_up_cap, overlap, paused, source, \
        created_at, updated_at, fired_through
        """

    public func createSchedule(_ schedule: ScheduleRecord) throws(StoreError) -> Bool {
        try run { connection throws(PostgresError) in
            try connection.query(
                """
                WITH created AS (
                    INSERT INTO \(schedulesTable) (\(Self.scheduleColumns))
                    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
                    ON CONFLICT (id) DO NOTHING RETURNING id
                )
                SELECT count(*), (SELECT pg_notify($16, 'schedules') FROM created) FROM created
                """,
                [
                    .text(schedule.id), .text(schedule.workflow), .text(schedule.cron), .text(schedule.timeZone),
                    .utf8(schedule.input), Self.integer(schedule.startsAt), Self.integer(schedule.endsAt),
                    .text(schedule.catchUp.rawValue), .integer(Int64(schedule.catchUpCap)),
                    .text(schedule.overlap.rawValue), .boolean(schedule.paused), .text(schedule.source.rawValue),
                    .integer(schedule.createdAt.milliseconds), .integer(schedule.updatedAt.milliseconds),
                    Self.integer(schedule.firedThrough), .text(channel),
                ]
            ).rows.first?.int64(0) == 1
        }
    }

    public func schedules() throws(StoreError) -> [ScheduleRecord] {
        try readSchedules("")
    }

    public func schedule(_ id: String) throws(StoreError) -> ScheduleRecord? {
        try readSchedules("WHERE id = $1", [.text(id)]).first
    }

    public func setSchedulePaused(_ id: String, _ paused: Bool, at now: Timestamp) throws(StoreError) -> Bool {
        try changedSchedule(
            """
            UPDATE \(schedulesTable) SET paused = $2, updated_at = GREATEST(updated_at, $3)
            WHERE id = $1 AND paused <> $2 RETURNING id
            """,
            [.text(id), .boolean(paused), .integer(now.milliseconds)]
        )
    }

    public func deleteSchedule(_ id: String) throws(StoreError) -> Bool {
        try changedSchedule("DELETE FROM \(schedulesTable) WHERE id = $1 RETURNING id", [.text(id)])
    }

    public func fireSchedule(_ fire: ScheduleFire, owner: String) throws(StoreError) -> Bool {
        let token = Int64.random(in: 1...Int64.max)
        var writes: [StoreWrite] = []
        for execution in fire.executions {
            writes.append(.insertExecution(execution.record, tasks: execution.tasks))
            writes.append(.appendEvent(execution.created))
        }
        let statements = plan(writes, owner: owner, token: token)
        return try transaction { connection throws(PostgresError) in
            let live = try connection.query(
                """
                UPDATE \(schedulesTable) SET fired_through = CASE WHEN $2::bigint IS NULL THEN fired_through
                    ELSE GREATEST(fired_through, $2::bigint) END
                WHERE id = $1 AND NOT paused RETURNING id
                """,
                [.text(fire.scheduleID), Self.integer(fire.firedThrough)]
            ).rows
            guard !live.isEmpty else { return false }
            guard !fire.executions.isEmpty else { return true }
            _ = try connection.pipeline(statements)
            try connection.query(
                """
                WITH fired AS (
                    UPDATE \(executionsTable) AS e SET claimed_by = NULL, lease_expires_at = NULL,
                        schedule_id = $1, scheduled_for = v.fire
                    FROM unnest($2::text[], $3::bigint[]) AS v (id, fire)
                    WHERE e.id = v.id AND e.write_token = $4 RETURNING e.id
                )
                SELECT pg_notify($5, 'work') FROM (SELECT 1 FROM fired LIMIT 1) AS any_fired
                """,
                [
                    .text(fire.scheduleID), .textArray(fire.executions.map(\.record.id)),
                    .integerArray(fire.executions.map { Int64?($0.scheduledFor.milliseconds) }), .integer(token),
                    .text(channel),
                ]
            )
            return true
        }
    }

    /// Runs a statement that changes a schedule and returns its id, notifying the other hosts when it did.
    private func changedSchedule(_ sql: String, _ values: [PostgresValue]) throws(StoreError) -> Bool {
        try run { connection throws(PostgresError) in
            try connection.query(
                """
                WITH changed AS (\(sql))
                SELECT count(*), (SELECT pg_notify($\(values.count + 1), 'schedules') FROM changed) FROM changed
                """,
                values + [.text(channel)]
            ).rows.first?.int64(0) == 1
        }
    }

    private func readSchedules(_ filter: String, _ values: [PostgresValue] = []) throws(StoreError) -> [ScheduleRecord]
    {
        let rows = try run { connection throws(PostgresError) in
            try connection.query("SELECT \(Self.scheduleColumns) FROM \(schedulesTable) \(filter) ORDER BY id", values)
                .rows
        }
        var schedules: [ScheduleRecord] = []
        for row in rows {
            guard let id = row.text(0), let workflow = row.text(1), let cron = row.text(2), let zone = row.text(3),
                let catchUp = row.text(7).flatMap(CatchUpPolicy.init(rawValue:)), let cap = row.int64(8),
                let overlap = row.text(9).flatMap(OverlapPolicy.init(rawValue:)),
                let source = row.text(11).flatMap(ScheduleRecord.Source.init(rawValue:)), let created = row.int64(12),
                let updated = row.int64(13)
            else {
                throw StoreError(.corrupt, "a row of \(schedulesTable) has a missing or malformed column")
            }
            schedules.append(
                ScheduleRecord(
                    id: id,
                    workflow: workflow,
                    cron: cron,
                    timeZone: zone,
                    input: row.bytes(4) ?? [],
                    startsAt: row.int64(5).map(Timestamp.init(milliseconds:)),
                    endsAt: row.int64(6).map(Timestamp.init(milliseconds:)),
                    catchUp: catchUp,
                    catchUpCap: Int(clamping: cap),
                    overlap: overlap,
                    paused: row.bool(10) ?? false,
                    source: source,
                    createdAt: Timestamp(milliseconds: created),
                    updatedAt: Timestamp(milliseconds: updated),
                    firedThrough: row.int64(14).map(Timestamp.init(milliseconds:))
                )
            )
        }
        return schedules
    }
}
