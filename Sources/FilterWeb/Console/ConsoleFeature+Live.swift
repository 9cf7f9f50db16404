import FilterCore
import Foundation
import Hummingbird
import Logging
import ServiceLifecycle

extension ConsoleFeature {
    /// What `/live` sends next.
    private enum LiveEvent: Sendable {
        case row(MessageLogRow)
        case status
        case keepAlive
    }

    /// The body of a `status` event: the overview's counters by `data-stat` key.
    struct LiveStatus: Codable, Sendable {
        var stats: [String: String]
    }

    /// `GET /live`: server-sent events. A `row` event (JSON of a ``MessageLogRow``, `id:` its
    /// sequence) for each outcome the log records that the identity may see, a `status` event
    /// (``LiveStatus``) at once and every ``ConsoleConfiguration/statusInterval``, a comment
    /// every ``ConsoleConfiguration/keepAliveInterval``. It ends when the client goes away (the
    /// next write fails), the session ends (logout, expiry; checked at each status and
    /// keep-alive) or the server shuts down. Beyond ``ConsoleConfiguration/maximumLiveStreams``
    /// open streams, or ``ConsoleConfiguration/maximumLiveStreamsPerUser`` of one login, 429.
    func live(_ context: WebRequestContext) throws -> Response {
        let identity = try Self.identity(context)
        guard let ticket = liveStreams.admit(identity.name) else {
            logger.notice("Live stream refused: too many open", metadata: ["web.login.user": "\(identity.name.singleLine)"])
            var response = HTML.document(
                title: "Too many live views",
                body: "<main><h1>Too many live views</h1><p>Close other console tabs and reload.</p></main>",
                status: .tooManyRequests)
            response.headers[.retryAfter] = "30"
            return response
        }
        let scope = Self.scope(of: identity)
        let sessionIsLive = context.sessionIsLive
        let rows = messageLog.liveRows()
        let headers: HTTPFields = [.contentType: "text/event-stream; charset=utf-8", .cacheControl: "no-store"]
        return Response(
            status: .ok, headers: headers,
            body: ResponseBody { writer in
                defer { ticket.close() }
                let (events, continuation) = AsyncStream.makeStream(of: LiveEvent.self, bufferingPolicy: .bufferingNewest(1024))
                try await withGracefulShutdownHandler {
                    try await stream(
                        rows: rows, scope: scope, sessionIsLive: sessionIsLive, events: events, continuation: continuation,
                        to: &writer)
                } onGracefulShutdown: {
                    continuation.finish()
                }
            })
    }

    /// Writes the events of one `/live` request until the client goes away (a write fails),
    /// the session ends or `events` is finished (graceful shutdown).
    private func stream(
        rows: AsyncStream<MessageLogRow>, scope: String?, sessionIsLive: (@Sendable () -> Bool)?, events: AsyncStream<LiveEvent>,
        continuation: AsyncStream<LiveEvent>.Continuation, to writer: inout any ResponseBodyWriter
    ) async throws {
        let configuration = self.configuration
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                for await row in rows where scope.map({ $0.lowercased() == row.owner.lowercased() }) ?? true {
                    continuation.yield(.row(row))
                }
            }
            group.addTask {
                while !Task.isCancelled {
                    try await Task.sleep(for: configuration.statusInterval)
                    continuation.yield(.status)
                }
            }
            group.addTask {
                while !Task.isCancelled {
                    try await Task.sleep(for: configuration.keepAliveInterval)
                    continuation.yield(.keepAlive)
                }
            }
            defer { group.cancelAll() }
            // A comment first, so the client sees the stream open before the first status.
            try await writer.write(ByteBuffer(string: ": filterd console\nretry: 5000\n\n"))
            try await writer.write(ByteBuffer(string: try await statusEvent(scope: scope)))
            for await event in events {
                if case .row = event {} else if let sessionIsLive, !sessionIsLive() { break }
                switch event {
                case .row(let row):
                    try await writer.write(ByteBuffer(string: "event: row\nid: \(row.sequence)\ndata: \(try Self.json(row))\n\n"))
                case .status:
                    try await writer.write(ByteBuffer(string: try await statusEvent(scope: scope)))
                case .keepAlive:
                    try await writer.write(ByteBuffer(string: ": keep-alive\n\n"))
                }
            }
        }
        try await writer.finish(nil)
    }

    private func statusEvent(scope: String?) async throws -> String {
        let status = LiveStatus(stats: try await statistics(scope: scope, now: Date()))
        return "event: status\ndata: \(try Self.json(status))\n\n"
    }

    /// One line of JSON (dates in ISO 8601): JSONEncoder escapes line breaks in strings, so
    /// the text fits in one `data:` field.
    static func json(_ value: some Encodable) throws -> String {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }
}
