internal import CloacinaDaemon
internal import Hummingbird

extension APIRoutes {
    /// One route of the API: its method, its path (`:name` for a parameter), and the handler that answers it.
    struct Route: Sendable {
        var method: HTTPRequest.Method
        var path: String
        var answer: @Sendable (APIRoutes, Request, any RequestContext) async throws -> Response

        init(
            _ method: HTTPRequest.Method,
            _ path: String,
            _ answer: @escaping @Sendable (APIRoutes, Request, any RequestContext) async throws -> Response
        ) {
            self.method = method
            self.path = path
            self.answer = answer
        }
    }

    /// Every route of the API (and of `openapi.json`, which describes each of them).
    static let table: [Route] = [
        Route(.post, "/tenants/:tenant/workflows") { api, request, context in
            try await api.submit(request, context: context)
        },
        Route(.get, "/tenants/:tenant/executions/:id") { api, request, context in
            try await api.execution(request, context: context)
        },
        Route(.post, "/tenants/:tenant/executions/:id/cancel") { api, _, context in
            try await api.cancel(context: context)
        },
        Route(.post, "/tenants/:tenant/executions/:id/pause") { api, _, context in try await api.pause(context: context)
        },
        Route(.post, "/tenants/:tenant/executions/:id/resume") { api, _, context in
            try await api.resume(context: context)
        },
        Route(.post, "/tenants/:tenant/executions/:id/retry") { api, request, context in
            try await api.start(.retry, request, context: context)
        },
        Route(.post, "/tenants/:tenant/executions/:id/rerun") { api, request, context in
            try await api.start(.rerun, request, context: context)
        },
        Route(.get, "/tenants/:tenant/executions/:id/events") { api, request, context in
            try await api.events(request, context: context)
        },
        Route(.get, "/tenants/:tenant/executions/:id/tasks/:task/logs") { api, request, context in
            try await api.taskLogs(request, context: context)
        },
        Route(.get, "/tenants/:tenant/executions") { api, request, context in
            try await api.executions(request, context: context)
        },
        Route(.post, "/tenants/:tenant/schedules") { api, request, context in
            try await api.createSchedule(request, context)
        },
        Route(.get, "/tenants/:tenant/schedules") { api, _, context in try await api.schedules(context) },
        Route(.get, "/tenants/:tenant/schedules/:id") { api, _, context in try await api.schedule(context) },
        Route(.delete, "/tenants/:tenant/schedules/:id") { api, _, context in try await api.deleteSchedule(context) },
        Route(.post, "/tenants/:tenant/schedules/:id/pause") { api, _, context in
            try await api.pauseSchedule(true, context)
        },
        Route(.post, "/tenants/:tenant/schedules/:id/resume") { api, _, context in
            try await api.pauseSchedule(false, context)
        },
        Route(.post, "/tenants/:tenant/schedules/:id/backfill") { api, request, context in
            try await api.backfill(request, context)
        },
        Route(.get, "/workflows") { api, _, _ in api.workflows() },
        Route(.post, "/admin/reload") { api, _, _ in try await api.reload() },
        Route(.delete, "/admin/quarantine/:package") { api, _, context in try api.unquarantine(context) },
        Route(.get, "/health") { api, _, _ in api.health() },
        Route(.get, "/ready") { api, _, _ in api.ready() },
        Route(.get, "/tenants") { api, _, _ in api.tenants() },
        Route(.get, "/hosts") { api, _, _ in await api.hosts() },
        Route(.get, "/metrics") { api, _, _ in await api.metrics() },
        Route(.get, "/openapi.json") { api, _, _ in api.openAPI() },
    ]

    /// The methods of the routes whose path matches `path` (a `:name` segment matches any one segment), in table
    /// order: what a 405 answer allows. Empty when no route has this path.
    static func methods(matching path: String) -> [HTTPRequest.Method] {
        let segments = path.split(separator: "/")
        return table.filter { route in
            let pattern = route.path.split(separator: "/")
            return pattern.count == segments.count
                && zip(pattern, segments).allSatisfy { $0.first == ":" || $0 == $1 }
        }
        .map(\.method)
    }
}
