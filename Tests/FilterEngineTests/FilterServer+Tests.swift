import FilterCore
import FilterProcessors
import FilterSMTP
import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import ServiceLifecycle
import Testing

@testable import FilterEngine

@Suite(.serialized) struct FilterServerTests {
    let logger = Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }

    private func makeServer(nextHopPort: Int, spool: String) throws -> FilterServer {
        try FilterServer(configuration: configuration(nextHopPort: nextHopPort, spool: spool), logger: logger)
    }

    private func configuration(nextHopPort: Int, spool: String) -> FilterServerConfiguration {
        var configuration = FilterServerConfiguration(hostname: "filter.test")
        configuration.smtp.port = 0
        configuration.nextHop = .init(host: "127.0.0.1", port: nextHopPort)
        configuration.spoolDirectory = spool
        configuration.delivery.minimumBackoff = 0.2
        configuration.delivery.maximumBackoff = 0.5
        return configuration
    }

    private func send(
        to port: Int, subject: String, from sender: String = "a@example.test", recipients: [String] = ["b@example.test"]
    ) async throws -> TransactionResult {
        let client = SMTPClient(configuration: SMTPClientConfiguration(heloName: "sender.test", port: port))
        defer { Task { await client.shutdown() } }
        let message = "From: \(sender)\r\nTo: b@example.test\r\nSubject: \(subject)\r\n\r\nHello\r\n"
        return try await client.send(
            OutboundTransaction(
                mailFrom: sender, recipients: recipients.map { EnvelopeRecipient(address: $0) },
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

    /// The embedded default: alice's pipeline blocks a sender, bob's passes everything, carol
    /// has no client. One message to all three reaches bob and carol only; alice's copy is
    /// denied and the spool ends empty.
    @Test func embeddedFilterAppliesEachOwnersDecision() async throws {
        let spool = FileManager.default.temporaryDirectory.appendingPathComponent("filterd-embedded-\(UUID())").path
        defer { try? FileManager.default.removeItem(atPath: spool) }
        try await withNextHop { hop, hopPort in
            let filter = try EmbeddedFilter(
                server: configuration(nextHopPort: hopPort, spool: spool),
                clients: [
                    .init(configuration: .init(owner: "alice@example.com"), pipeline: Pipeline([try SenderList(options: .init(block: ["@spam.example"]))])),
                    .init(configuration: .init(owner: "bob@example.com"), pipeline: Pipeline([])),
                ],
                logger: logger)
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await filter.run() }
                var addresses = filter.server.listeningAddresses.makeAsyncIterator()
                let port = await addresses.next()!.port!
                let recipients = ["Alice+news@example.com", "bob@example.com", "carol@example.com"]
                let result = try await send(to: port, subject: "embedded", from: "bulk@spam.example", recipients: recipients)
                #expect(result.dataReply?.code == 250)
                try await waitFor { (try? SpoolInspector(directory: spool).entries().isEmpty) == true }
                #expect(try SpoolInspector(directory: spool).entries().isEmpty)
                let delivered = hop.messages.withLockedValue { $0 }
                #expect(delivered.flatMap { $0.0.recipients.map(\.address) }.sorted() == ["bob@example.com", "carol@example.com"])
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
