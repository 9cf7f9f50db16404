import FilterCore
import FilterProcessors
import FilterQueue
import FilterSMTP
import FilterWeb
import Foundation
import Logging
import NIOCore
import Prometheus
import Testing

@testable import FilterEngine

/// The engine records into the process's metrics what docs/metrics.md lists; read back through
/// `/metrics`, as Prometheus would. Every check compares two scrapes, since other tests of
/// the process record into the same registry at the same time.
@Suite struct FilterMetricsTests {
    let logger = Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }

    /// Mail through the embedded filter: alice's client denies the spammer's copy, carol (no
    /// client) gets the default pass and her copy goes to a next hop that refuses connections.
    @Test(.timeLimit(.minutes(2))) func mailThroughTheEmbeddedFilterMovesTheCounters() async throws {
        let registry = FilterMetricsSystem.bootstrap()
        let spool = FileManager.default.temporaryDirectory.appendingPathComponent("filterd-metrics-\(UUID())").path
        defer { try? FileManager.default.removeItem(atPath: spool) }
        var configuration = FilterServerConfiguration(hostname: "filter.test")
        configuration.smtp.port = 0
        // Port 1 on loopback: nothing listens, the connection is refused at once.
        configuration.nextHop = .init(host: "127.0.0.1", port: 1)
        configuration.spoolDirectory = spool
        let alice = EmbeddedFilter.Client(
            configuration: .init(owner: "alice@example.com"),
            pipeline: Pipeline([try SenderList(options: .init(block: ["@spam.example"]))]))
        let filter = try EmbeddedFilter(server: configuration, clients: [alice], logger: logger)

        try await withWebServer(features: [MetricsFeature(registry: registry)]) { client in
            let before = PrometheusSamples(try await client.get("/metrics").text)
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await filter.run() }
                defer { group.cancelAll() }
                var addresses = filter.server.listeningAddresses.makeAsyncIterator()
                let port = try #require(await addresses.next()?.port)
                #expect(try await send(to: port, from: "bulk@spam.example", to: "alice@example.com") == 250)
                #expect(try await send(to: port, from: "friend@example.org", to: "carol@example.com") == 250)

                var after = before
                for _ in 0..<600 {
                    after = PrometheusSamples(try await client.get("/metrics").text)
                    let settled =
                        after.growth(of: #"filterd_next_hop_recipients_total{result="unreachable"}"#, since: before) >= 1
                        && after.growth(of: #"filterd_events_total{result="published"}"#, since: before) >= 1
                    if settled { break }
                    try await Task.sleep(for: .milliseconds(100))
                }
                #expect(after.growth(of: "filterd_smtp_sessions_total", since: before) >= 2)
                #expect(after.growth(of: "filterd_messages_accepted_total", since: before) >= 2)
                #expect(after.growth(of: "filterd_accepted_bytes_total", since: before) >= 100)
                #expect(after.growth(of: #"filterd_decisions_total{action="deny",source="client"}"#, since: before) >= 1)
                #expect(after.growth(of: #"filterd_decisions_total{action="pass",source="unsubscribed"}"#, since: before) >= 1)
                #expect(after.growth(of: "filterd_client_requests_total", since: before) >= 1)
                #expect(after.growth(of: #"filterd_client_decisions_total{action="deny"}"#, since: before) >= 1)
                #expect(after.growth(of: "filterd_client_pipeline_duration_seconds_count", since: before) >= 1)
                #expect(after.growth(of: #"filterd_next_hop_recipients_total{result="unreachable"}"#, since: before) >= 1)
                #expect(after.growth(of: "filterd_next_hop_transaction_duration_seconds_count", since: before) >= 1)
                #expect(after.growth(of: #"filterd_events_total{result="published"}"#, since: before) >= 1)
                #expect(after.values.keys.contains("filterd_spool_entries"))
                #expect(after.values.keys.contains("filterd_spool_bytes"))
                #expect(after.values.keys.contains("filterd_smtp_sessions_active"))
                #expect(after.values.keys.contains(#"filterd_next_hop_transaction_duration_seconds_bucket{le="0.0025"}"#))
            }
        }
    }

    /// A silent client: the question runs into its deadline (a fallback), and the answer that
    /// comes afterwards is rejected as late.
    @Test(.timeLimit(.minutes(1))) func deadlineFallbacksAndLateRepliesAreCounted() async throws {
        let registry = FilterMetricsSystem.bootstrap()
        let before = PrometheusSamples(registry.emitToString())
        let broker = InMemoryBroker()
        broker.addServer(user: "filterd", serverID: "mx-metrics")
        try broker.subscribe(owner: "alice@example.com", user: "alice@example.com")
        let alice = InMemoryTransport(broker: broker, user: "alice@example.com")
        var requests = try await alice.requests(owner: "alice@example.com", prefetch: 10).makeAsyncIterator()
        var filtering = FilteringConfiguration(serverID: "mx-metrics")
        filtering.deadline = .milliseconds(200)
        filtering.subscriptionCacheTime = .zero
        let coordinator = DecisionCoordinator(
            transport: InMemoryTransport(broker: broker, user: "filterd"), configuration: filtering, logger: logger)
        let envelope = Envelope(mailFrom: "friend@example.org", recipients: [EnvelopeRecipient(address: "alice@example.com")])
        let metadata = FilterRequestMetadata(
            requestID: "late-1", queueID: QueueID.generate(at: Date()), received: Date(), deadline: Date().addingTimeInterval(1),
            envelope: envelope, recipient: envelope.recipients[0], owner: "alice@example.com", size: 20, truncated: false)
        let question = OwnerQuestion(requestID: "late-1", owner: "alice@example.com", metadata: metadata, body: Array("Subject: hi\r\n\r\nhi\r\n".utf8))

        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await coordinator.consumeReplies() }
            defer { group.cancelAll() }
            let decision = await coordinator.decide(question)
            #expect(decision.source == .deadline)
            let request = try #require(try await requests.next())
            let reply = FilterReply(id: "late-1", action: .deny)
            try await alice.reply(OutgoingReply(id: "late-1", serverID: "mx-metrics", body: try reply.wireJSON()), to: request)
            var after = before
            for _ in 0..<300 {
                after = PrometheusSamples(registry.emitToString())
                if after.growth(of: #"filterd_rejected_replies_total{reason="late"}"#, since: before) >= 1 { break }
                try await Task.sleep(for: .milliseconds(100))
            }
            #expect(after.growth(of: "filterd_deadline_fallbacks_total", since: before) >= 1)
            #expect(after.growth(of: #"filterd_rejected_replies_total{reason="late"}"#, since: before) >= 1)
        }
        await alice.shutdown()
    }

    /// Sends one small message; returns the reply code to the end of DATA.
    private func send(to port: Int, from sender: String, to recipient: String) async throws -> Int? {
        let client = SMTPClient(configuration: SMTPClientConfiguration(heloName: "sender.test", port: port))
        defer { Task { await client.shutdown() } }
        let message = "From: \(sender)\r\nTo: \(recipient)\r\nSubject: metrics\r\n\r\nHello, this is a test message.\r\n"
        let result = try await client.send(
            OutboundTransaction(
                mailFrom: sender, recipients: [EnvelopeRecipient(address: recipient)],
                content: .bytes(ByteBuffer(string: message))),
            logger: logger)
        return result.dataReply?.code
    }
}
