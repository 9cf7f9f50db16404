import FilterCore
import FilterProcessors
import FilterQueue
import Foundation
import Logging
import Testing

@testable import FilterEngine

/// The server's side of the RPC over the in-memory transport: who decides, and which replies
/// count (DESIGN.md, flow steps 4 and 5).
@Suite struct DecisionCoordinatorTests {
    let broker = InMemoryBroker()
    let serverID = "mx-test"
    let logger = Logger(label: "test")

    init() {
        broker.addServer(user: "filterd", serverID: serverID)
    }

    func coordinator(deadline: Duration = .seconds(30), offline: FilteringConfiguration.OfflinePolicy = .fallback) -> DecisionCoordinator {
        var configuration = FilteringConfiguration(serverID: serverID)
        configuration.deadline = deadline
        configuration.offlinePolicy = offline
        configuration.fallbackAction = .pass
        configuration.subscriptionCacheTime = .zero
        return DecisionCoordinator(
            transport: InMemoryTransport(broker: broker, user: "filterd"), configuration: configuration, logger: logger)
    }

    func question(_ owner: String, from sender: String = "friend@example.org", id: String = UUID().uuidString) -> OwnerQuestion {
        let envelope = Envelope(mailFrom: sender, recipients: [EnvelopeRecipient(address: owner)])
        let metadata = FilterRequestMetadata(
            requestID: id, queueID: QueueID.generate(at: Date()), received: Date(), deadline: Date().addingTimeInterval(60),
            envelope: envelope, recipient: envelope.recipients[0], owner: owner, size: 20, truncated: false)
        return OwnerQuestion(requestID: id, owner: owner, metadata: metadata, body: Array("Subject: hi\r\n\r\nhello\r\n".utf8))
    }

    /// Runs the coordinator's reply consumer and `body`, then stops both.
    func withRunning<Result: Sendable>(
        _ coordinator: DecisionCoordinator, clients: [FilterClient] = [], _ body: () async throws -> Result
    ) async throws -> Result {
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await coordinator.consumeReplies() }
            for client in clients { group.addTask { try await client.run() } }
            defer { group.cancelAll() }
            return try await body()
        }
    }

    func client(_ owner: String, blocking: [String] = []) throws -> FilterClient {
        FilterClient(
            transport: InMemoryTransport(broker: broker, user: owner),
            pipeline: Pipeline([try SenderList(options: .init(block: blocking.isEmpty ? ["@never.invalid"] : blocking))]),
            configuration: FilterClientConfiguration(owner: owner), logger: logger)
    }

    @Test func unsubscribedOwnerGetsTheDefaultActionAtOnce() async throws {
        let decision = await coordinator().decide(question("nobody@example.com"))
        #expect(decision == RecipientDecision(action: .pass, source: .unsubscribed))
    }

    @Test func offlineOwnerGetsTheFallbackAtOnce() async throws {
        try broker.subscribe(owner: "alice@example.com", user: "alice@example.com")
        let decision = await coordinator().decide(question("alice@example.com"))
        #expect(decision == RecipientDecision(action: .pass, source: .offline))
    }

    @Test func offlineOwnerWithWaitPolicyIsAskedUntilTheDeadline() async throws {
        try broker.subscribe(owner: "alice@example.com", user: "alice@example.com")
        let coordinator = coordinator(deadline: .milliseconds(300), offline: .wait)
        let decision = try await withRunning(coordinator) { await coordinator.decide(question("alice@example.com")) }
        #expect(decision == RecipientDecision(action: .pass, source: .deadline))
    }

    @Test func subscribedOwnersClientDecides() async throws {
        try broker.subscribe(owner: "alice@example.com", user: "alice@example.com")
        let coordinator = coordinator()
        let decisions = try await withRunning(coordinator, clients: [try client("alice@example.com", blocking: ["@spam.example"])]) {
            try await ConformanceWait.until { try await InMemoryTransport(broker: broker, user: "filterd").subscription(of: "alice@example.com") != .offline }
            let denied = await coordinator.decide(question("alice@example.com", from: "bulk@spam.example"))
            let passed = await coordinator.decide(question("alice@example.com", from: "friend@example.org"))
            return (denied, passed)
        }
        #expect(decisions.0.action == .deny)
        #expect(decisions.0.source == .client)
        #expect(decisions.0.reply?.processors?.first?.name == "sender-list")
        #expect(decisions.1.action == .pass)
        #expect(decisions.1.source == .client)
        #expect(await coordinator.rejectedReplies.isEmpty)
    }

    @Test func silentClientMeansTheFallbackAtTheDeadline() async throws {
        try broker.subscribe(owner: "alice@example.com", user: "alice@example.com")
        let silent = InMemoryTransport(broker: broker, user: "alice@example.com")
        let requests = try await silent.requests(owner: "alice@example.com", prefetch: 10)
        let coordinator = coordinator(deadline: .milliseconds(300))
        let decision = try await withRunning(coordinator) { await coordinator.decide(question("alice@example.com")) }
        #expect(decision == RecipientDecision(action: .pass, source: .deadline))
        withExtendedLifetime(requests) {}
        await silent.shutdown()
    }

    @Test func fullQueueMeansTheFallbackAtOnce() async throws {
        // No consumer and the wait policy, so the request is published into a queue whose
        // limit (10 octets) it exceeds on its own.
        try broker.subscribe(owner: "alice@example.com", user: "alice@example.com", maxLengthBytes: 10)
        let coordinator = coordinator(offline: .wait)
        let decision = try await withRunning(coordinator) { await coordinator.decide(question("alice@example.com")) }
        #expect(decision == RecipientDecision(action: .pass, source: .refused))
    }
}

/// Bad and forged replies: each is counted by reason and changes nothing; the owner's mail is
/// still decided by the owner's own reply or by the fallback.
@Suite struct RejectedReplyTests {
    let broker = InMemoryBroker()
    let owner = "bob@example.com"
    let serverID = "mx-test"

    init() throws {
        broker.addServer(user: "filterd", serverID: serverID)
        try broker.subscribe(owner: owner, user: owner)
        try broker.subscribe(owner: "alice@example.com", user: "alice@example.com")
    }

    /// Asks bob once; bob's transport answers with `forgeries` and then, if given, with the
    /// genuine reply. Returns the decision and the rejection counts.
    func ask(
        forgeries: @escaping @Sendable (_ request: DeliveredRequest, _ id: String) -> [(user: String, reply: OutgoingReply)],
        genuine: FilterAction?, genuineDelay: Duration = .zero, deadline: Duration = .seconds(30),
        expectedRejections: Int
    ) async throws -> (RecipientDecision, [RejectedReplyReason: Int]) {
        var configuration = FilteringConfiguration(serverID: serverID)
        configuration.deadline = deadline
        configuration.fallbackAction = .pass
        let coordinator = DecisionCoordinator(
            transport: InMemoryTransport(broker: broker, user: "filterd"), configuration: configuration, logger: Logger(label: "test"))
        let bob = InMemoryTransport(broker: broker, user: owner)
        let requests = try await bob.requests(owner: owner, prefetch: 10)
        let broker = self.broker
        let decision = try await withThrowingTaskGroup(of: RecipientDecision?.self) { group in
            group.addTask { try await coordinator.consumeReplies(); return nil }
            group.addTask {
                var iterator = requests.makeAsyncIterator()
                guard let request = try await iterator.next(), let id = request.id else { return nil }
                for (user, reply) in forgeries(request, id) {
                    let sender = InMemoryTransport(broker: broker, user: user)
                    try await sender.reply(reply, to: request)
                }
                if let genuine {
                    try await Task.sleep(for: genuineDelay)
                    try await bob.reply(OutgoingReply(id: id, serverID: serverID, body: try FilterReply(id: id, action: genuine).wireJSON()), to: request)
                }
                return nil
            }
            let question = DecisionCoordinatorTests().question(owner, id: "req-\(UUID().uuidString)")
            let decision = await coordinator.decide(question)
            // Replies sent after the decision (duplicates, late ones) are counted a little later.
            try await ConformanceWait.until { await coordinator.rejectedReplies.values.reduce(0, +) >= expectedRejections }
            group.cancelAll()
            return decision
        }
        await bob.shutdown()
        return (decision, await coordinator.rejectedReplies)
    }

    static func body(_ text: String) -> [UInt8] { Array(text.utf8) }

    @Test func malformedUnknownAndMismatchedRepliesAreRejected() async throws {
        let (decision, rejected) = try await ask(
            forgeries: { _, id in
                [
                    (owner, OutgoingReply(id: id, serverID: serverID, body: Self.body("{not json"))),
                    (owner, OutgoingReply(id: id, serverID: serverID, body: Self.body(#"{"version":1,"id":"\#(id)","action":"explode"}"#))),
                    (owner, OutgoingReply(id: id, serverID: serverID, body: Self.body(#"{"version":1,"id":"other","action":"deny"}"#))),
                    (owner, OutgoingReply(id: "unknown-id", serverID: serverID, body: Self.body(#"{"version":1,"id":"unknown-id","action":"deny"}"#))),
                ]
            }, genuine: .deny, expectedRejections: 4)
        #expect(decision.action == .deny)
        #expect(decision.source == .client)
        #expect(rejected == [.malformed: 1, .unknownAction: 1, .idMismatch: 1, .unknownID: 1])
    }

    @Test func aliceCannotAnswerForBob() async throws {
        let (decision, rejected) = try await ask(
            forgeries: { _, id in
                [("alice@example.com", OutgoingReply(id: id, serverID: serverID, body: Self.body(#"{"version":1,"id":"\#(id)","action":"deny"}"#)))]
            }, genuine: .pass, expectedRejections: 1)
        #expect(decision.action == .pass)
        #expect(decision.source == .client)
        #expect(rejected == [.wrongUser: 1])
    }

    @Test func aSecondReplyIsADuplicate() async throws {
        let (decision, rejected) = try await ask(
            forgeries: { _, id in
                [(owner, OutgoingReply(id: id, serverID: serverID, body: Self.body(#"{"version":1,"id":"\#(id)","action":"pass"}"#)))]
            }, genuine: .deny, expectedRejections: 1)
        #expect(decision.action == .pass)
        #expect(rejected == [.duplicate: 1])
    }

    @Test func aReplyAfterTheDeadlineIsLate() async throws {
        let (decision, rejected) = try await ask(
            forgeries: { _, _ in [] }, genuine: .deny, genuineDelay: .milliseconds(600), deadline: .milliseconds(200),
            expectedRejections: 1)
        #expect(decision == RecipientDecision(action: .pass, source: .deadline))
        #expect(rejected == [.late: 1])
    }
}

@Suite struct ReplyCheckTests {
    let body = Array(#"{"version":1,"id":"r1","action":"pass"}"#.utf8)
    let receipt = DeliveryReceipt(connection: 1, deliveryTag: 1)

    @Test func aReplyWithoutUserIDIsRejected() {
        let reply = ReceivedReply(correlationID: "r1", userID: nil, type: nil, body: body, receipt: receipt)
        #expect(ReplyCheck.authorize(reply, owner: "bob@example.com") == .missingUserID)
    }

    @Test func aReplyWithoutCorrelationIDIsRejected() {
        let reply = ReceivedReply(correlationID: nil, userID: "bob@example.com", type: nil, body: body, receipt: receipt)
        #expect(throws: RejectedReplyReason.missingCorrelationID) { try ReplyCheck.decode(reply).get() }
    }

    @Test func theOwnersOwnReplyPasses() throws {
        let reply = ReceivedReply(correlationID: "r1", userID: "bob@example.com", type: nil, body: body, receipt: receipt)
        #expect(try ReplyCheck.decode(reply).get().action == .pass)
        #expect(ReplyCheck.authorize(reply, owner: "bob@example.com") == nil)
    }
}

/// Polls a condition for at most 10 s.
enum ConformanceWait {
    static func until(_ condition: () async throws -> Bool) async throws {
        let deadline = ContinuousClock.now + .seconds(10)
        while try await !condition() {
            guard ContinuousClock.now < deadline else { throw CancellationError() }
            try await Task.sleep(for: .milliseconds(20))
        }
    }
}
