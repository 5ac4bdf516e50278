internal import Cloacina
internal import CloacinaDaemon
internal import HTTPTypes
internal import Hummingbird

/// `GET …/executions/{id}/events?follow=true`: the execution's history as Server-Sent Events, one per event
/// (`id:` its sequence number, `event:` its kind, `data:` its JSON on one line), from after `?after=` or the
/// `Last-Event-ID` a reconnecting client sends, until the execution has ended; then the stream closes. An
/// unknown execution is a 404 before the stream starts. A client that goes away ends the following.
enum EventStream {
    static func response(
        _ daemon: Daemon,
        _ tenant: TenantName,
        id: String,
        after: Int64,
        request: Request
    ) async throws -> Response {
        _ = try await daemon.execution(tenant, id: id)
        let start = max(after, try lastEventID(request))
        let feed = try await daemon.followEvents(tenant, id: id, after: start)
        return Response(
            status: .ok,
            headers: [.contentType: "text/event-stream", .cacheControl: "no-cache"],
            body: ResponseBody { writer in
                for try await events in feed {
                    var buffer = ByteBuffer()
                    for event in events { buffer.writeString(frame(event)) }
                    try await writer.write(buffer)
                }
                try await writer.finish(nil)
            }
        )
    }

    /// `GET …/tasks/{task}/logs?follow=true`: the task's log lines matching `query` as Server-Sent Events, one per
    /// line (`id:` its sequence number, `event: log`, `data:` its JSON on one line), from after `query.after` or the
    /// `Last-Event-ID` a reconnecting client sends, until the execution has ended. An unknown execution or task is a
    /// 404 before the stream starts.
    static func logResponse(
        _ daemon: Daemon,
        _ tenant: TenantName,
        query: TaskLogQuery,
        request: Request
    ) async throws -> Response {
        var query = query
        query.after = max(query.after, try lastEventID(request))
        let feed = try await daemon.followTaskLogs(tenant, query)
        return Response(
            status: .ok,
            headers: [.contentType: "text/event-stream", .cacheControl: "no-cache"],
            body: ResponseBody { writer in
                for try await page in feed {
                    var buffer = ByteBuffer()
                    for line in page.lines {
                        buffer.writeString(
                            "id: \(line.sequence)\nevent: log\ndata: \(line.json.serializedString(pretty: false))\n\n"
                        )
                    }
                    try await writer.write(buffer)
                }
                try await writer.finish(nil)
            }
        )
    }

    /// The sequence number of a reconnecting client's `Last-Event-ID`, 0 without one; a 400 for anything else.
    static func lastEventID(_ request: Request) throws -> Int64 {
        guard let last = request.headers[HTTPField.Name("Last-Event-ID")!] else { return 0 }
        guard let sequence = Int64(last), sequence >= 0 else {
            throw APIError(.badRequest, "Last-Event-ID must be an event's sequence number, not \"\(last)\"")
        }
        return sequence
    }

    /// One event as a Server-Sent Events frame. The JSON is on one line (its strings escape line breaks).
    static func frame(_ event: ExecutionEvent) -> String {
        "id: \(event.sequence)\nevent: \(event.kind.rawValue)\ndata: \(event.json.serializedString(pretty: false))\n\n"
    }
}
