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
        var start = after
        if let last = request.headers[HTTPField.Name("Last-Event-ID")!] {
            guard let sequence = Int64(last), sequence >= 0 else {
                throw APIError(.badRequest, "Last-Event-ID must be an event's sequence number, not \"\(last)\"")
            }
            start = max(start, sequence)
        }
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

    /// One event as a Server-Sent Events frame. The JSON is on one line (its strings escape line breaks).
    static func frame(_ event: ExecutionEvent) -> String {
        "id: \(event.sequence)\nevent: \(event.kind.rawValue)\ndata: \(event.json.serializedString(pretty: false))\n\n"
    }
}
