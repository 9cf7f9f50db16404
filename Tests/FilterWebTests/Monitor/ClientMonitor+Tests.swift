import FilterCore
import FilterProcessors
import FilterQueue
import FilterWeb
import Foundation
import Logging
import Testing

@testable import FilterEngine

/// The monitor as a ``FilterClient``'s observer: a bounded ring of the last decisions and
/// per-processor statistics.
@Suite struct ClientMonitorTests {
    @Test func keepsTheLastDecisionsNewestFirst() throws {
        let monitor = ClientMonitor(capacity: 3)
        for index in 1...5 {
            monitor.clientDecided(
                MonitorFeatureTests.answer(
                    subject: "message \(index)", action: index.isMultiple(of: 2) ? .deny : .pass, reason: "r",
                    trace: [.init(name: "rules", outcome: index == 5 ? "error" : "continue", ms: index)]))
        }
        let snapshot = monitor.snapshot()
        #expect(snapshot.recent.map(\.subject) == ["message 5", "message 4", "message 3"])
        #expect(snapshot.answered == 5)
        #expect(snapshot.actions == [.pass: 3, .deny: 2])
        #expect(snapshot.processors.count == 1)
        let rules = try #require(snapshot.processors.first)
        #expect(rules.runs == 5 && rules.errors == 1 && rules.decisions == 0 && rules.timeouts == 0)
        #expect(rules.meanMilliseconds == 3)
    }

    /// A real client over the in-memory broker reports each decision, with the subject it read.
    @Test(.timeLimit(.minutes(1))) func filterClientReportsItsDecisions() async throws {
        let broker = InMemoryBroker()
        broker.addServer(user: "filterd", serverID: "mx-monitor")
        try broker.subscribe(owner: "alice@example.com", user: "alice@example.com")
        let monitor = ClientMonitor()
        let logger = Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }
        let client = FilterClient(
            transport: InMemoryTransport(broker: broker, user: "alice@example.com"),
            pipeline: Pipeline([try SenderList(options: .init(block: ["@spam.example"]))]),
            configuration: FilterClientConfiguration(owner: "alice@example.com"), logger: logger, observer: monitor)
        var filtering = FilteringConfiguration(serverID: "mx-monitor")
        filtering.subscriptionCacheTime = .zero
        // The request waits in the queue until the client, started beside, consumes it.
        filtering.offlinePolicy = .wait
        let coordinator = DecisionCoordinator(
            transport: InMemoryTransport(broker: broker, user: "filterd"), configuration: filtering, logger: logger)
        let envelope = Envelope(mailFrom: "bulk@spam.example", recipients: [EnvelopeRecipient(address: "alice@example.com")])
        let metadata = FilterRequestMetadata(
            requestID: "m-1", queueID: QueueID.generate(at: Date()), received: Date(), deadline: Date().addingTimeInterval(60),
            envelope: envelope, recipient: envelope.recipients[0], owner: "alice@example.com", size: 40, truncated: false)
        let question = OwnerQuestion(
            requestID: "m-1", owner: "alice@example.com", metadata: metadata,
            body: Array("Subject: <script>buy</script>\r\n\r\nhi\r\n".utf8))
        let decision = await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await coordinator.consumeReplies() }
            group.addTask { try await client.run() }
            defer { group.cancelAll() }
            return await coordinator.decide(question)
        }
        #expect(decision.action == .deny)
        let recent = try #require(monitor.snapshot().recent.first)
        #expect(recent.subject == "<script>buy</script>")
        #expect(recent.request?.envelope.mailFrom == "bulk@spam.example")
        #expect(recent.reply.action == .deny)
        #expect(recent.reply.processors?.map(\.name) == ["sender-list"])
        #expect(recent.pipelineDuration != nil)
    }
}
