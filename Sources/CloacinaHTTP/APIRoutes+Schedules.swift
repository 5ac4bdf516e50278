internal import Cloacina
internal import CloacinaDaemon
internal import Hummingbird

/// The handlers of a tenant's cron schedules, under `/tenants/{tenant}/schedules` (routed by ``table``).
extension APIRoutes {
    /// `POST /tenants/{tenant}/schedules`: 201 with the schedule (and its location); 400 naming what is wrong
    /// (cron, zone, bounds, policies, input), 404 for an unknown workflow, 409 when the id is taken.
    func createSchedule(_ request: Request, _ context: some RequestContext) async throws -> Response {
        let tenant = try tenant(context)
        let body = try ScheduleRequest(parsing: try await Self.body(of: request, limit: maxBodyBytes))
        let info = try await daemon.createSchedule(tenant, body.spec)
        return .json(
            info.json,
            status: .created,
            headers: [.location: "/tenants/\(tenant)/schedules/\(info.record.id)"]
        )
    }

    /// `GET /tenants/{tenant}/schedules`: `{schedules: [...]}` by id, each with `next_fire_at`.
    func schedules(_ context: some RequestContext) async throws -> Response {
        let schedules = try await daemon.schedules(try tenant(context))
        return .json(["schedules": .array(schedules.map(\.json))])
    }

    /// `GET /tenants/{tenant}/schedules/{id}`: the schedule; 404 for an unknown one.
    func schedule(_ context: some RequestContext) async throws -> Response {
        .json(try await daemon.schedule(try tenant(context), id: try Self.parameter("id", context)).json)
    }

    /// `DELETE /tenants/{tenant}/schedules/{id}`: 204; 404 for an unknown one. Its executions stay.
    func deleteSchedule(_ context: some RequestContext) async throws -> Response {
        try await daemon.deleteSchedule(try tenant(context), id: try Self.parameter("id", context))
        return Response(status: .noContent)
    }

    /// `POST …/schedules/{id}/pause` and `…/resume`: 200 with the schedule; 404 for an unknown one.
    func pauseSchedule(_ paused: Bool, _ context: some RequestContext) async throws -> Response {
        let tenant = try tenant(context)
        let id = try Self.parameter("id", context)
        return .json(try await daemon.setSchedulePaused(tenant, id: id, paused: paused).json)
    }

    /// `POST …/schedules/{id}/backfill` with `{from, through}`: 201 with the ids of the executions started (fire
    /// times that had one already are left out); 400 for a range over the schedule's cap or reversed, 409 while
    /// the schedule is paused.
    func backfill(_ request: Request, _ context: some RequestContext) async throws -> Response {
        let tenant = try tenant(context)
        let id = try Self.parameter("id", context)
        let range = try ScheduleRequest.backfillRange(parsing: try await Self.body(of: request, limit: maxBodyBytes))
        let started = try await daemon.backfill(tenant, id: id, from: range.from, through: range.through)
        let ids = JSONValue.array(started.map(JSONValue.string))
        return .json(["schedule_id": .string(id), "execution_ids": ids], status: .created)
    }
}
