import FilterCore
import FilterQueue
import Foundation
import Logging
import Testing

@testable import FilterEngine

/// Outcome events: what an event says about a recipient, and that publishing is bounded and
/// never holds delivery up.
@Suite("EventPublisher")
struct EventPublisherTests {
    let logger = Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }
    static let at = Date(timeIntervalSince1970: 1_795_684_448.5)

    /// A message to `recipients`, the first denied by its owner's client, the others delivered
    /// without ever being asked (no request id, no decision).
    static func entry(recipients: [String]) throws -> SpoolEntry {
        let queueID = try #require(QueueID(rawValue: "2VgL9q3Kx7aB2c9"))
        var states = recipients.map { _ in RecipientDelivery(state: .delivered, detail: "250 2.0.0 Ok", updatedAt: at) }
        states[0] = RecipientDelivery(
            state: .denied, updatedAt: at, requestID: "req-1",
            decision: RecipientDecision(
                action: .deny, source: .client, reply: FilterReply(id: "req-1", action: .deny, reason: "blocked sender")))
        return SpoolEntry(
            queueID: queueID,
            envelope: Envelope(mailFrom: "news@shop.example", recipients: recipients.map { EnvelopeRecipient(address: $0) }),
            receivedAt: at, messageSize: 100, recipients: states)
    }

    @Test func eventCarriesTheDecisionAndTheCanonicalOwner() throws {
        let entry = try Self.entry(recipients: ["Alice+news@Example.COM", "bob@example.com"])
        let filtering = FilteringConfiguration(serverID: "mx1")

        let denied = OutcomeEvent(of: entry, at: 0, filtering: filtering)
        #expect(
            denied
                == OutcomeEvent(
                    id: "req-1", queueID: "2VgL9q3Kx7aB2c9", owner: "alice@example.com", recipient: "Alice+news@Example.COM",
                    sender: "news@shop.example", action: .deny, source: .client, state: "denied", reason: "blocked sender",
                    at: Self.at))

        let delivered = OutcomeEvent(of: entry, at: 1, filtering: filtering)
        #expect(delivered.id == "2VgL9q3Kx7aB2c9.1")
        #expect(delivered.action == .pass)
        #expect(delivered.source == .unsubscribed)
        #expect(delivered.state == "delivered")
        #expect(delivered.detail == "250 2.0.0 Ok")
        #expect(delivered.reason == nil)
    }

    /// Beyond `maximumPending` events are dropped at once and counted; those kept are published
    /// once the publisher runs, and `finish()` lets it end.
    @Test(.timeLimit(.minutes(1))) func eventsBeyondTheLimitAreDroppedAndTheRestPublished() async throws {
        let broker = InMemoryBroker()
        broker.addServer(user: "filterd")
        try broker.subscribe(owner: "alice@example.com", user: "alice@example.com")
        let server = InMemoryTransport(broker: broker, user: "filterd")
        let alice = InMemoryTransport(broker: broker, user: "alice@example.com")
        let publisher = EventPublisher(
            transport: server, filtering: FilteringConfiguration(serverID: "mx1"),
            configuration: EventConfiguration(maximumPending: 2, concurrency: 1), logger: logger)

        let entry = try Self.entry(recipients: ["alice@example.com", "alice+a@example.com", "alice+b@example.com"])
        for index in entry.recipients.indices { await publisher.recipientFinished(entry, at: index) }
        #expect(publisher.statistics == .init(pending: 2, published: 0, dropped: 1, failed: 0))

        var events = try await alice.events(owner: "alice@example.com", prefetch: 0).makeAsyncIterator()
        async let running: Void = publisher.run()
        let first = try OutcomeEvent(wireJSON: try #require(try await events.next()).body)
        let second = try OutcomeEvent(wireJSON: try #require(try await events.next()).body)
        #expect([first.recipient, second.recipient] == ["alice@example.com", "alice+a@example.com"])
        publisher.finish()
        await running
        #expect(publisher.statistics == .init(pending: 0, published: 2, dropped: 1, failed: 0))

        // After finish() nothing more is taken.
        await publisher.recipientFinished(entry, at: 2)
        #expect(publisher.statistics.dropped == 2)
        await alice.shutdown()
        await server.shutdown()
    }

    /// A transport that may not publish events loses them (counted), and delivery goes on.
    @Test(.timeLimit(.minutes(1))) func refusedPublishesAreCountedAsFailed() async throws {
        let broker = InMemoryBroker()
        let notAServer = InMemoryTransport(broker: broker, user: "nobody")
        let publisher = EventPublisher(
            transport: notAServer, filtering: FilteringConfiguration(serverID: "mx1"), configuration: EventConfiguration(),
            logger: logger)
        let entry = try Self.entry(recipients: ["alice@example.com"])
        await publisher.recipientFinished(entry, at: 0)
        publisher.finish()
        await publisher.run()
        #expect(publisher.statistics == .init(pending: 0, published: 0, dropped: 0, failed: 1))
        await notAServer.shutdown()
    }
}
