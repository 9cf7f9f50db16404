import FilterCore
import FilterSMTP
import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import ServiceLifecycle
import Testing

@testable import FilterEngine

/// A next hop in the same process: our own SMTP server storing what it receives in memory.
private final class MemoryNextHop: SMTPMessageReceiver, Sendable {
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

@Suite(.serialized) struct FilterServerTests {
    let logger = Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }

    private func withNextHop<T>(_ body: (MemoryNextHop, Int) async throws -> T) async throws -> T {
        let hop = MemoryNextHop()
        var configuration = SMTPServerConfiguration(hostname: "nexthop.test", port: 0)
        configuration.commandTimeout = .seconds(30)
        let server = SMTPServer(configuration: configuration, receiver: hop, logger: logger)
        let (ports, continuation) = AsyncStream.makeStream(of: Int.self)
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await server.run { continuation.yield($0.port ?? 0) } }
            var iterator = ports.makeAsyncIterator()
            let port = await iterator.next()!
            defer { server.shutdown() }
            return try await body(hop, port)
        }
    }

    private func makeServer(nextHopPort: Int, spool: String) throws -> FilterServer {
        var configuration = FilterServerConfiguration(hostname: "filter.test")
        configuration.smtp.port = 0
        configuration.nextHop = .init(host: "127.0.0.1", port: nextHopPort)
        configuration.spoolDirectory = spool
        configuration.delivery.minimumBackoff = 0.2
        configuration.delivery.maximumBackoff = 0.5
        return try FilterServer(configuration: configuration, logger: logger)
    }

    private func send(to port: Int, subject: String) async throws -> TransactionResult {
        let client = SMTPClient(configuration: SMTPClientConfiguration(heloName: "sender.test", port: port))
        defer { Task { await client.shutdown() } }
        let message = "From: a@example.test\r\nTo: b@example.test\r\nSubject: \(subject)\r\n\r\nHello\r\n"
        return try await client.send(
            OutboundTransaction(
                mailFrom: "a@example.test", recipients: [EnvelopeRecipient(address: "b@example.test")],
                client: ClientInfo(name: "origin.example", address: "192.0.2.7"),
                content: .bytes(ByteBuffer(string: message))),
            logger: logger)
    }

    private func waitFor(_ condition: () -> Bool) async throws {
        for _ in 0..<200 where !condition() {
            try await Task.sleep(for: .milliseconds(50))
        }
    }

    @Test func acceptsSpoolsAndDeliversWithTraceAndXForward() async throws {
        let spool = FileManager.default.temporaryDirectory.appendingPathComponent("filterd-engine-\(UUID())").path
        defer { try? FileManager.default.removeItem(atPath: spool) }
        try await withNextHop { hop, hopPort in
            let server = try makeServer(nextHopPort: hopPort, spool: spool)
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await server.run() }
                var addresses = server.listeningAddresses.makeAsyncIterator()
                let port = await addresses.next()!.port!
                let result = try await send(to: port, subject: "engine test")
                #expect(result.dataReply?.code == 250)
                try await waitFor { !hop.messages.withLockedValue { $0.isEmpty } }
                let delivered = hop.messages.withLockedValue { $0 }
                #expect(delivered.count == 1)
                #expect(delivered.first?.0.recipients.map(\.address) == ["b@example.test"])
                #expect(delivered.first?.0.client.name == "origin.example")
                #expect(delivered.first?.0.client.address == "192.0.2.7")
                #expect(delivered.first?.1.contains("by filter.test (filterd) with ESMTP id") == true)
                #expect(delivered.first?.1.hasSuffix("Subject: engine test\r\n\r\nHello\r\n") == true)
                try await waitFor { (try? SpoolInspector(directory: spool).entries().isEmpty) == true }
                #expect(try SpoolInspector(directory: spool).entries().isEmpty)
                group.cancelAll()
            }
        }
    }

    @Test func keepsMessagesWhileTheNextHopIsDownAndDeliversThemAfterARestart() async throws {
        let spool = FileManager.default.temporaryDirectory.appendingPathComponent("filterd-engine-\(UUID())").path
        defer { try? FileManager.default.removeItem(atPath: spool) }
        // Find a port nobody listens on by binding a next hop and stopping it at once.
        let downPort = try await withNextHop { _, port in port }
        let server = try makeServer(nextHopPort: downPort, spool: spool)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await server.run() }
            var addresses = server.listeningAddresses.makeAsyncIterator()
            let port = await addresses.next()!.port!
            #expect(try await send(to: port, subject: "while down").dataReply?.code == 250)
            try await waitFor { (try? SpoolInspector(directory: spool).entries().first?.attempts ?? 0) ?? 0 >= 1 }
            let entries = try SpoolInspector(directory: spool).entries()
            #expect(entries.count == 1)
            #expect(entries.first?.recipients.first?.state == .deferred)
            group.cancelAll()
        }
        #expect(try SpoolInspector(directory: spool).entries().count == 1, "a stopped server keeps undelivered mail")

        // Restarted on the same spool with a next hop that answers: recovery delivers it.
        try await withNextHop { hop, hopPort in
            let restarted = try makeServer(nextHopPort: hopPort, spool: spool)
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await restarted.run() }
                try await waitFor { !hop.messages.withLockedValue { $0.isEmpty } }
                #expect(hop.messages.withLockedValue { $0.map(\.1) }.first?.contains("Subject: while down") == true)
                try await waitFor { (try? SpoolInspector(directory: spool).entries().isEmpty) == true }
                #expect(try SpoolInspector(directory: spool).entries().isEmpty)
                group.cancelAll()
            }
        }
    }
}
