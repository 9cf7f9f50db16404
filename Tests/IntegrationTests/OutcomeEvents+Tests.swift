import FilterCore
import FilterQueue
import Foundation
import Logging
import Testing

/// Outcome events end to end (docs/protocol.md, section 12): Postfix → `filterd server` →
/// delivery → `mailfilter.events` on the shared RabbitMQ node → the owner's events queue, read
/// by the owner's own broker user; and what that user may not do with events.
@Suite("Outcome events through Postfix and RabbitMQ", .enabled(if: Repository.integrationEnabled), .serialized)
struct OutcomeEventsTests {
    static let logger = Logger(label: "filter.events.test") { _ in SwiftLogNoOpLogHandler() }

    @Test("alice's events queue gets her outcomes; she cannot read bob's events or publish events", .timeLimit(.minutes(5)))
    func ownersReadOnlyTheirOwnOutcomes() async throws {
        try await BrokerFixture.withFixture { fixture in
            let alice = try await fixture.addOwner("alice")
            let bob = try await fixture.addOwner("bob")
            let aliceSession = try Self.transport(fixture, alice)
            let bobSession = try Self.transport(fixture, bob)
            try await FilterClientProcess.withRunning({
                try await .swift(broker: fixture.broker, credentials: alice, block: ["@spam.example"])
            }) { _ in
                try await FilterChain.withRunningChain(filtering: fixture.filtering(deadline: 20)) { postfix, filterd in
                    try await Swaks.send(port: postfix.smtpPort, from: "bulk@spam.example", to: [alice.user], subject: "blocked")
                        .requireSuccess()
                    try await filterd.waitForEmptySpool()
                    try await Swaks.send(port: postfix.smtpPort, from: "friend@example.test", to: [alice.user], subject: "welcome")
                        .requireSuccess()
                    _ = try await postfix.waitForMaildir(user: Self.localPart(alice.user), count: 1)
                    // Bob has no client: the offline policy delivers at once.
                    try await Swaks.send(port: postfix.smtpPort, from: "friend@example.test", to: [bob.user], subject: "hi bob")
                        .requireSuccess()
                    _ = try await postfix.waitForMaildir(user: Self.localPart(bob.user), count: 1)
                    try await filterd.waitForEmptySpool()
                }
            }

            var aliceEvents = try await aliceSession.events(owner: alice.user, prefetch: 10).makeAsyncIterator()
            var outcomes: [OutcomeEvent] = []
            for _ in 0..<2 {
                let delivery = try #require(try await aliceEvents.next(), "the events stream ended early")
                #expect(delivery.type == "mailfilter.event.v1")
                let event = try OutcomeEvent(wireJSON: delivery.body)
                #expect(delivery.id == event.id)
                outcomes.append(event)
                try await aliceSession.acknowledge(delivery)
            }
            let byState = Dictionary(uniqueKeysWithValues: outcomes.map { ($0.state, $0) })
            let denied = try #require(byState["denied"], "no denied event among \(outcomes)")
            #expect(denied.owner == alice.user)
            #expect(denied.sender == "bulk@spam.example")
            #expect(denied.action == .deny)
            #expect(denied.source == .client)
            let delivered = try #require(byState["delivered"], "no delivered event among \(outcomes)")
            #expect(delivered.action == .pass)
            #expect(delivered.source == .client)
            #expect(delivered.detail?.hasPrefix("250") == true, "detail: \(delivered.detail ?? "none")")
            #expect(delivered.queueID != denied.queueID)

            await Self.expectAccessRefused("alice consuming bob's events queue") {
                try await aliceSession.events(owner: bob.user, prefetch: 1)
            }
            await #expect("alice publishing to mailfilter.events") {
                try await aliceSession.publishEvent(
                    OutgoingEvent(id: "forged", owner: bob.user, body: Array("{}".utf8), timestamp: Date()))
            } throws: { error in
                (error as? TransportError)?.code == .accessRefused
            }

            // Bob's event went to bob only, untouched by alice's attempts.
            var bobEvents = try await bobSession.events(owner: bob.user, prefetch: 1).makeAsyncIterator()
            let bobDelivery = try #require(try await bobEvents.next(), "bob's events stream ended early")
            let bobEvent = try OutcomeEvent(wireJSON: bobDelivery.body)
            #expect(bobEvent.owner == bob.user)
            #expect(bobEvent.state == "delivered")
            #expect(bobEvent.source == .offline)
            try await bobSession.acknowledge(bobDelivery)

            await aliceSession.shutdown()
            await bobSession.shutdown()
        }
    }

    /// A transport logged in as the owner's own broker user.
    private static func transport(_ fixture: BrokerFixture, _ owner: BrokerNode.Credentials) throws -> RabbitMQTransport {
        RabbitMQTransport(url: try AMQPURL(fixture.broker.amqpURL(user: owner.user), password: owner.password), logger: logger)
    }

    /// Opening the stream is refused with ACCESS_REFUSED, at once or as its first event.
    private static func expectAccessRefused(
        _ what: String, _ open: () async throws -> AsyncThrowingStream<DeliveredEvent, any Error>
    ) async {
        do {
            var iterator = try await open().makeAsyncIterator()
            _ = try await iterator.next()
            Issue.record("\(what) was not refused")
        } catch {
            #expect((error as? TransportError)?.code == .accessRefused, "\(what): \(error)")
        }
    }

    private static func localPart(_ address: String) -> String {
        String(address.split(separator: "@").first ?? "")
    }
}
