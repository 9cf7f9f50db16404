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
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connect(host: "127.0.0.1", port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                }
            }
        return try await channel.executeThenClose { inbound, outbound in
            var request = "GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n"
            for (name, value) in headers { request += "\(name): \(value)\r\n" }
            try await outbound.write(ByteBuffer(string: request + "\r\n"))
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
