internal import Cloacina
internal import CloacinaDaemon
internal import Hummingbird

/// The API's routes, as a `RouteCollection`: each handler reads its parameters and body, calls the daemon once,
/// and answers JSON. Errors are thrown (``APIError``, `CloacinaError`) and turned into answers by
/// ``APIMiddleware``; nothing here logs. The tenant of a path is checked once, here, and the daemon trusts it.
struct APIRoutes: Sendable {
    let daemon: Daemon
    let maxBodyBytes: Int

    /// Every route of ``table``, for `Router.addRoutes(_:)`.
    func collection<Context: RequestContext>(context: Context.Type = Context.self) -> RouteCollection<Context> {
        let routes = RouteCollection(context: Context.self)
        for route in Self.table {
            routes.on(RouterPath(route.path), method: route.method) { request, context in
                try await route.answer(self, request, context)
            }
        }
        return routes
    }

    /// `POST /tenants/{tenant}/workflows`: starts an execution; 202 with its id, or with `?wait=true` 200 and the
    /// result once it ends (also when it failed: the result says so). A client that goes away while it waits
    /// cancels the wait, not the execution.
    func submit(_ request: Request, context: some RequestContext) async throws -> Response {
        let tenant = try tenant(context)
        let wait = try Self.flag("wait", request)
        let submission = try SubmitRequest(parsing: try await Self.body(of: request, limit: maxBodyBytes))
        if wait {
            let result = try await daemon.run(tenant, workflow: submission.workflow, context: submission.context)
            return .json(result.json)
        }
        let (id, status) = try await daemon.submit(tenant, workflow: submission.workflow, context: submission.context)
        return .json(
            ["execution_id": .string(id), "status": .string(status.rawValue)],
            status: .accepted,
            headers: [.location: "/tenants/\(tenant)/executions/\(id)"]
        )
    }

    /// `GET /tenants/{tenant}/executions/{id}`: one execution with its tasks and final context; with `?wait=true`,
    /// once it has ended (if it runs in this host).
    func execution(_ request: Request, context: some RequestContext) async throws -> Response {
        let tenant = try tenant(context)
        let id = try Self.parameter("id", context)
        if try Self.flag("wait", request) {
            return .json(try await daemon.waitForExecution(tenant, id: id).json)
        }
        return .json(try await daemon.execution(tenant, id: id).json)
    }

    /// `POST /tenants/{tenant}/executions/{id}/cancel`: 202 with the execution as it is now (`cancel_pending` true
    /// while it has not ended yet: another host runs it, or its running attempts are stopping); 404 for an unknown
    /// execution, 409 for one that already ended.
    func cancel(context: some RequestContext) async throws -> Response {
        let tenant = try tenant(context)
        let id = try Self.parameter("id", context)
        let result = try await daemon.cancel(tenant, id: id, reason: "cancelled over HTTP")
        var json = result.json
        if case .object(var fields) = json {
            fields["cancel_pending"] = .bool(!result.status.isFinished)
            json = .object(fields)
        }
        return .json(json, status: .accepted)
    }

    /// `POST /tenants/{tenant}/executions/{id}/pause`: 202 with the execution as it is now (`paused` true); 404 for
    /// an unknown execution, 409 for one that ended.
    func pause(context: some RequestContext) async throws -> Response {
        let tenant = try tenant(context)
        return .json(try await daemon.pause(tenant, id: try Self.parameter("id", context)).json, status: .accepted)
    }

    /// `POST /tenants/{tenant}/executions/{id}/resume`: 202 with the execution as it is now (this host runs it when
    /// no live host did); 404 for an unknown execution, 409 for one that ended.
    func resume(context: some RequestContext) async throws -> Response {
        let tenant = try tenant(context)
        return .json(try await daemon.resume(tenant, id: try Self.parameter("id", context)).json, status: .accepted)
    }

    /// `POST /tenants/{tenant}/executions/{id}/retry` (from the failure) and `…/rerun` (from the start), with
    /// `?latest=true` for the version serving the workflow now: 201 with the new execution's id, its status and
    /// origin, and its location; 404 for an unknown execution or a pinned version not found here, 409 for a retry
    /// of one that is running or completed.
    func start(
        _ derivation: Daemon.Derivation,
        _ request: Request,
        context: some RequestContext
    ) async throws -> Response {
        let tenant = try tenant(context)
        let origin = try Self.parameter("id", context)
        let latest = try Self.flag("latest", request)
        let (id, status) = try await daemon.start(derivation, tenant, of: origin, latest: latest)
        return .json(
            [
                "execution_id": .string(id), "status": .string(status.rawValue),
                "\(derivation.rawValue)_of": .string(origin),
            ],
            status: .created,
            headers: [.location: "/tenants/\(tenant)/executions/\(id)"]
        )
    }

    /// `GET /tenants/{tenant}/executions/{id}/events`: `{events: [...], next_after}`, a page of the execution's
    /// history oldest first (``EventPageParameters``); `next_after` is the `after` of the next page, null after the
    /// last one. With `?follow=true`, a stream of Server-Sent Events instead (``EventStream``).
    func events(_ request: Request, context: some RequestContext) async throws -> Response {
        let tenant = try tenant(context)
        let id = try Self.parameter("id", context)
        let page = try EventPageParameters(request.uri.queryParameters)
        if try Self.flag("follow", request) {
            return try await EventStream.response(daemon, tenant, id: id, after: page.after, request: request)
        }
        // One event more than the page, to know whether another page follows.
        let later = try await daemon.events(tenant, id: id, after: page.after, limit: page.limit + 1)
        let events = later.prefix(page.limit)
        let next = later.count > page.limit ? events.last.map { JSONValue.int(Int($0.sequence)) } : nil
        return .json([
            "execution_id": .string(id), "events": .array(events.map(\.json)), "next_after": next ?? .null,
        ])
    }

    /// `GET /tenants/{tenant}/executions/{id}/tasks/{task}/logs`: `{execution_id, task, lines: [...], next_after,
    /// dropped}`, a page of the lines the task logged, oldest first, of one attempt with `?attempt=N`
    /// (``TaskLogParameters``); `next_after` is the `after` of the next page, null after the last one; `dropped` is
    /// how many lines its attempts logged over their bound. 404 for an unknown execution or task. With
    /// `?follow=true`, a stream of Server-Sent Events instead (``EventStream/logResponse(_:_:query:request:)``).
    func taskLogs(_ request: Request, context: some RequestContext) async throws -> Response {
        let tenant = try tenant(context)
        let id = try Self.parameter("id", context)
        let task = try Self.parameter("task", context)
        let parameters = try TaskLogParameters(request.uri.queryParameters)
        if try Self.flag("follow", request) {
            let query = TaskLogQuery(
                executionID: id,
                taskID: task,
                attempt: parameters.attempt,
                after: parameters.page.after,
                limit: parameters.page.limit
            )
            return try await EventStream.logResponse(daemon, tenant, query: query, request: request)
        }
        // One line more than the page, to know whether another page follows.
        let query = TaskLogQuery(
            executionID: id,
            taskID: task,
            attempt: parameters.attempt,
            after: parameters.page.after,
            limit: parameters.page.limit + 1
        )
        let page = try await daemon.taskLogs(tenant, query)
        let lines = page.lines.prefix(parameters.page.limit)
        let next = page.lines.count > parameters.page.limit ? lines.last.map { JSONValue.int(Int($0.sequence)) } : nil
        return .json([
            "execution_id": .string(id), "task": .string(task), "lines": .array(lines.map(\.json)),
            "next_after": next ?? .null, "dropped": .int(page.dropped[task] ?? 0),
        ])
    }

    /// `GET /tenants/{tenant}/executions`: a page of the tenant's executions, newest first, the cursor of the next
    /// page (null after the last), and the total (see ``ListingParameters``).
    func executions(_ request: Request, context: some RequestContext) async throws -> Response {
        let tenant = try tenant(context)
        let listing = try ListingParameters(request.uri.queryParameters)
        let (executions, total) = try await daemon.executions(
            tenant,
            query: listing.query,
            count: listing.total != .none,
            countingUpTo: listing.total == .counted ? ListingParameters.countedTotal : nil
        )
        let next =
            executions.count == listing.query.limit
            ? executions.last.map {
                JSONValue.string(ExecutionCursor(createdAt: $0.createdAt, id: $0.executionID).token)
            }
            : nil
        var body: [String: JSONValue] = [
            "executions": .array(executions.map { $0.json }),
            "total": total.map { .int($0) } ?? .null,
            "limit": .int(listing.query.limit),
            "offset": .int(listing.query.offset),
            "next_cursor": next ?? .null,
        ]
        if total == nil, listing.total == .counted { body["more_than"] = .int(ListingParameters.countedTotal) }
        return .json(.object(body))
    }

    /// `GET /workflows`: what the drop directory and the host serve.
    func workflows() -> Response {
        .json(daemon.workflowsJSON())
    }

    /// `POST /admin/reload`: reloads the drop directory and reports what changed. A client that goes away stops
    /// waiting for the report (the reload itself goes on).
    func reload() async throws -> Response {
        .json(try await daemon.reload().json)
    }

    /// `DELETE /admin/quarantine/{package or sha256}`: ends the quarantine of the versions it names; 200 with
    /// them, 404 when none is quarantined.
    func unquarantine(_ context: some RequestContext) throws -> Response {
        let selector = try Self.parameter("package", context)
        return .json(["released": .array(try daemon.unquarantine(selector).map(\.json))])
    }

    /// `GET /health`: 200 while the process answers at all.
    func health() -> Response {
        .json(["status": "ok"])
    }

    /// `GET /ready`: 200 while the daemon serves (with any tenants out of service listed); 503 while it starts,
    /// drains or has stopped, or when none of the tenants it was told to serve is in service.
    func ready() -> Response {
        let unavailable = JSONValue.array(daemon.unavailableTenants.map(JSONValue.string))
        if daemon.isReady { return .json(["status": "ready", "unavailable_tenants": unavailable]) }
        let phase = daemon.phase
        return .json(
            [
                "status": .string(phase == .serving ? "no tenant in service" : phase.rawValue),
                "unavailable_tenants": unavailable,
            ],
            status: .serviceUnavailable
        )
    }

    /// `GET /tenants`: the tenants the daemon knows and whether each is in service.
    func tenants() -> Response {
        .json(daemon.tenantsJSON())
    }

    /// `GET /hosts`: the hosts sharing the served tenants, live first (``Daemon/hostsJSON()``).
    func hosts() async -> Response {
        .json(await daemon.hostsJSON())
    }

    /// `GET /metrics`: the daemon's metrics in Prometheus' text format; `cloacina_hosts_live` is counted for it.
    func metrics() async -> Response {
        _ = await daemon.hosts()
        return Response(
            status: .ok,
            headers: [.contentType: "text/plain; version=0.0.4"],
            body: ResponseBody(byteBuffer: ByteBuffer(string: daemon.metricsExposition()))
        )
    }

    /// `GET /openapi.json`: the API's OpenAPI 3.1 document (``OpenAPIDocument``).
    func openAPI() -> Response {
        Response(
            status: .ok,
            headers: [.contentType: "application/json"],
            body: ResponseBody(byteBuffer: ByteBuffer(string: OpenAPIDocument.text))
        )
    }

    /// The request body, refused (413) past `limit` bytes: at once when the declared length is larger, else as
    /// soon as the bytes read exceed it, so an oversized body is never buffered whole.
    static func body(of request: Request, limit: Int) async throws -> [UInt8] {
        let tooLarge = APIError(.contentTooLarge, "the request body is larger than \(limit) bytes")
        if let declared = request.headers[.contentLength], let length = Int(declared), length > limit {
            throw tooLarge
        }
        do {
            let buffer = try await request.body.collect(upTo: limit)
            return Array(buffer.readableBytesView)
        } catch let error as any HTTPResponseError where error.status == .contentTooLarge {
            throw tooLarge
        }
    }

    /// The route's tenant, checked against the daemon's storage: the one check of it on the way to the store.
    func tenant(_ context: some RequestContext) throws -> TenantName {
        try daemon.tenant(try Self.parameter("tenant", context))
    }

    /// A path parameter of the route.
    static func parameter(_ name: String, _ context: some RequestContext) throws -> String {
        guard let value = context.parameters.get(name) else {
            throw APIError(.badRequest, "missing path parameter \(name)")
        }
        return value
    }

    /// A boolean query parameter: absent, `false` or `0` is false; `true` or `1` is true; anything else is a 400.
    private static func flag(_ name: String, _ request: Request) throws -> Bool {
        guard let value = request.uri.queryParameters[name[...]] else { return false }
        switch value.lowercased() {
        case "true", "1": return true
        case "false", "0": return false
        default: throw APIError(.badRequest, "\(name) must be true or false, not \"\(value)\"")
        }
    }
}
