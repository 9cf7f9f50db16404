import NIOCore
import NIOPosix
import NIOConcurrencyHelpers

/// Reads a server-sent event stream over a raw loopback connection, as a browser's
/// EventSource would, so a test sees exactly the bytes of the stream.
enum EventStreamReader {
    /// Opens `GET path` with `headers`, runs `action` once the first `status` event has arrived
    /// (the subscription is then in place), and reads until `done` holds for the text read so
    /// far or the server closes the stream (at most `timeout`); the connection is then closed.
    /// - Returns: The text read, response head included.
    static func read(
        port: Int, path: String = "/live", headers: [String: String], timeout: Duration = .seconds(20),
        action: @escaping @Sendable () async throws -> Void, until done: @escaping @Sendable (String) -> Bool
    ) async throws -> String {
        try await RawHTTPRequest.exchange(port: port, path: path, headers: headers.merging(["Accept": "text/event-stream"]) { given, _ in given }) { inbound in
            let received = NIOLockedValueBox("")
            return try await withThrowingTaskGroup(of: String?.self) { group in
                group.addTask {
                    var text = ""
                    var acted = false
                    for try await chunk in inbound {
                        text += String(buffer: chunk)
                        received.withLockedValue { $0 = text }
                        if !acted, text.contains("event: status") {
                            acted = true
                            try await action()
                        }
                        if acted, done(text) { return text }
                    }
                    return text
                }
                group.addTask {
                    try await Task.sleep(for: timeout)
                    return nil
                }
                defer { group.cancelAll() }
                guard let text = try await group.next() ?? nil else {
                    throw WebTestError("the event stream did not deliver what was expected within \(timeout); it sent: \(received.withLockedValue { $0 })")
                }
                return text
            }
        }
    }
}
