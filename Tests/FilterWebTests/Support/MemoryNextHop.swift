import FilterCore
import FilterSMTP
import Logging
import NIOCore
import Synchronization

/// A submission next hop in the test process: FilterSMTP's own server keeping what it
/// receives in memory.
final class MemoryNextHop: SMTPMessageReceiver, Sendable {
    /// One received message.
    struct Received: Sendable {
        var envelope: Envelope
        var bytes: [UInt8]
    }

    private let received = Mutex<[Received]>([])

    /// The messages received so far.
    var messages: [Received] { received.withLock { $0 } }

    func openMessage(for envelope: Envelope, logger: Logger) async throws -> any SMTPIncomingMessage {
        Message(queueID: .generate(), hop: self)
    }

    private final class Message: SMTPIncomingMessage, Sendable {
        let queueID: QueueID
        let hop: MemoryNextHop
        let content = Mutex<[UInt8]>([])

        init(queueID: QueueID, hop: MemoryNextHop) {
            self.queueID = queueID
            self.hop = hop
        }

        func append(_ bytes: ByteBuffer) async throws {
            content.withLock { $0 += Array(buffer: bytes) }
        }

        func commit(envelope: Envelope) async throws {
            let bytes = content.withLock { $0 }
            hop.received.withLock { $0.append(Received(envelope: envelope, bytes: bytes)) }
        }

        func discard() async {}
    }
}

/// Runs `body` with a ``MemoryNextHop`` on a free loopback port that takes at most
/// `maximumRecipients` recipients per transaction (more get `452 4.5.3`).
func withNextHop<T: Sendable>(maximumRecipients: Int = 1000, _ body: (MemoryNextHop, Int) async throws -> T) async throws -> T {
    let hop = MemoryNextHop()
    var configuration = SMTPServerConfiguration(hostname: "nexthop.test", port: 0)
    configuration.commandTimeout = .seconds(60)
    configuration.session.maximumRecipients = maximumRecipients
    let server = SMTPServer(configuration: configuration, receiver: hop, logger: Logger(label: "test.nexthop") { _ in SwiftLogNoOpLogHandler() })
    let (ports, continuation) = AsyncStream.makeStream(of: Int.self)
    return try await withThrowingTaskGroup(of: Void.self) { group in
        group.addTask { try await server.run { continuation.yield($0.port ?? 0) } }
        var iterator = ports.makeAsyncIterator()
        guard let port = await iterator.next() else { throw WebTestError("the next hop did not listen") }
        defer { server.shutdown() }
        return try await body(hop, port)
    }
}
