internal import CloacinaSchedule
public import CloacinaStorage

/// A tenant's cron schedules (``ScheduleRecord``), in its `schedules` table, and the executions their fires insert.
extension SQLiteExecutionStore {
    public func createSchedule(_ schedule: ScheduleRecord) throws(StoreError) -> Bool {
        try withWriter { connection throws(SQLiteError) in
            try connection.run(
                """
                INSERT INTO schedules (id, workflow, cron, time_zone, input, starts_at, ends_at, catch_up,
                    catch_up_cap, overlap, paused, source, created_at, updated_at, fired_through)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING
                """,
                [
                    .text(schedule.id), .text(schedule.workflow), .text(schedule.cron), .text(schedule.timeZone),
                    .utf8(schedule.input), Self.integer(schedule.startsAt), Self.integer(schedule.endsAt),
                    .text(schedule.catchUp.rawValue), .integer(Int64(schedule.catchUpCap)),
                    .text(schedule.overlap.rawValue), .integer(schedule.paused ? 1 : 0),
                    .text(schedule.source.rawValue), .integer(schedule.createdAt.milliseconds),
                    .integer(schedule.updatedAt.milliseconds), Self.integer(schedule.firedThrough),
                ]
            ) > 0
        }
    }

    public func schedules() throws(StoreError) -> [ScheduleRecord] {
        try readSchedules(where: "", [])
    }

    public func schedule(_ id: String) throws(StoreError) -> ScheduleRecord? {
        try readSchedules(where: "WHERE id = ?", [.text(id)]).first
    }

    public func setSchedulePaused(_ id: String, _ paused: Bool, at now: Timestamp) throws(StoreError) -> Bool {
        try withWriter { connection throws(SQLiteError) in
            try connection.run(
                "UPDATE schedules SET paused = ?, updated_at = max(updated_at, ?) WHERE id = ? AND paused = ?",
                [.integer(paused ? 1 : 0), .integer(now.milliseconds), .text(id), .integer(paused ? 0 : 1)]
            ) > 0
        }
    }

    public func deleteSchedule(_ id: String) throws(StoreError) -> Bool {
        try withWriter { connection throws(SQLiteError) in
            try connection.run("DELETE FROM schedules WHERE id = ?", [.text(id)]) > 0
        }
    }

    public func fireSchedule(_ fire: ScheduleFire, owner: String) throws(StoreError) -> Bool {
        try withWriter { connection throws(SQLiteError) in
            try connection.transaction { () throws(SQLiteError) in
                let live = try connection.run(
                    """
                    UPDATE schedules SET fired_through = CASE WHEN ? IS NULL THEN fired_through
                        ELSE max(coalesce(fired_through, ?), ?) END
                    WHERE id = ? AND paused = 0
                    """,
                    [
                        Self.integer(fire.firedThrough), Self.integer(fire.firedThrough),
                        Self.integer(fire.firedThrough), .text(fire.scheduleID),
                    ]
                )
                guard live > 0 else { return false }
                for execution in fire.executions {
                    try insert(execution.record, tasks: execution.tasks, owner: owner, into: connection)
                    try connection.run(
                        """
                        UPDATE executions SET claimed_by = NULL, lease_expires_at = NULL, schedule_id = ?,
                            scheduled_for = ?
                        WHERE id = ?
                        """,
                        [
                            .text(fire.scheduleID), .integer(execution.scheduledFor.milliseconds),
                            .text(execution.record.id),
                        ]
                    )
                    try apply(.appendEvent(execution.created), to: connection)
                }
                return true
            }
        }
    }

    private func readSchedules(where filter: String, _ values: [SQLiteValue]) throws(StoreError) -> [ScheduleRecord] {
        let rows = try withReader { connection throws(SQLiteError) in
            try connection.query(
                """
                SELECT id, workflow, cron, time_zone, input, starts_at, ends_at, catch_up, catch_up_cap, overlap,
                    paused, source, created_at, updated_at, fired_through
                FROM schedules \(filter) ORDER BY id
                """,
                values
            ) { row in
                (
                    row.text(7), row.text(9), row.text(11),
                    ScheduleRecord(
                        id: row.text(0),
                        workflow: row.text(1),
                        cron: row.text(2),
                        timeZone: row.text(3),
                        input: row.bytes(4) ?? [],
                        startsAt: row.optionalInt64(5).map(Timestamp.init(milliseconds:)),
                        endsAt: row.optionalInt64(6).map(Timestamp.init(milliseconds:)),
                        catchUpCap: Int(clamping: row.int64(8)),
                        paused: row.int64(10) != 0,
                        createdAt: Timestamp(milliseconds: row.int64(12)),
                        updatedAt: Timestamp(milliseconds: row.int64(13)),
                        firedThrough: row.optionalInt64(14).map(Timestamp.init(milliseconds:))
                    )
                )
            }
        }
        var schedules: [ScheduleRecord] = []
        for (catchUp, overlap, source, record) in rows {
            guard let catchUp = CatchUpPolicy(rawValue: catchUp), let overlap = OverlapPolicy(rawValue: overlap),
                let source = ScheduleRecord.Source(rawValue: source)
            else {
                throw StoreError(.corrupt, "schedule \(record.id) has an unknown policy or source")
            }
            var schedule = record
            schedule.catchUp = catchUp
            schedule.overlap = overlap
            schedule.source = source
            schedules.append(schedule)
        }
        return schedules
    }
}
