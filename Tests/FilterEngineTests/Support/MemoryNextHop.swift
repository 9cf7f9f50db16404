import FilterCore
import FilterSMTP
import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore

/// A next hop in the same process: our own SMTP server storing what it receives in memory.
final class MemoryNextHop: SMTPMessageReceiver, Sendable {
    let messages = NIOLockedValueBox<[(Envelope, String)]>([])

    func openMessage(for envelope: Envelope, logger: Logger) async throws -> any SMTPIncomingMessage {
        Message(queueID: .generate(), hop: self)
    }

    private final class Message: SMTPIncomingMessage, Sendable {
        let queueID: QueueID
        let hop: MemoryNextHop
        let content = NIOLockedValueBox(ByteBuffer())
        init(queueID: QueueID, hop: MemoryNextHop) {
            self.queueID = queueID
            self.hop = hop
        }
        func append(_ bytes: ByteBuffer) async throws {
            content.withLockedValue { buffer in
                var bytes = bytes
                buffer.writeBuffer(&bytes)
            }
        }
        func commit(envelope: Envelope) async throws {
            let text = content.withLockedValue { String(buffer: $0) }
            hop.messages.withLockedValue { $0.append((envelope, text)) }
        }
        func discard() async {}
    }
}

/// Runs `body` with a ``MemoryNextHop`` listening on a free loopback port.
func withNextHop<T>(_ body: (MemoryNextHop, Int) async throws -> T) async throws -> T {
    let hop = MemoryNextHop()
    var configuration = SMTPServerConfiguration(hostname: "nexthop.test", port: 0)
    configuration.commandTimeout = .seconds(30)
    let server = SMTPServer(
        configuration: configuration, receiver: hop, logger: Logger(label: "test") { _ in SwiftLogNoOpLogHandler() })
    let (ports, continuation) = AsyncStream.makeStream(of: Int.self)
    return try await withThrowingTaskGroup(of: Void.self) { group in
        group.addTask { try await server.run { continuation.yield($0.port ?? 0) } }
        var iterator = ports.makeAsyncIterator()
        let port = await iterator.next()!
        defer { server.shutdown() }
        return try await body(hop, port)
    }
}
