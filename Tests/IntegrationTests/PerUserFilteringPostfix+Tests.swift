import Foundation
import Testing

/// Per-user filtering end to end: Postfix → `filterd server` → RabbitMQ (the shared node) →
/// the owner's client → reply → reinjection into Postfix → Maildir. Every owner, server id and
/// broker user carries a random suffix, since the node is shared.
@Suite("Per-user filtering through Postfix", .enabled(if: Repository.integrationEnabled), .serialized)
struct PerUserFilteringPostfixTests {
    /// The global deadline: long, so that "at once" is told apart from "after the deadline".
    static let deadline = 20
    /// The deadline of the owner whose client hangs (`filtering.owners`).
    static let hungDeadline = 3

    @Test("subscribed, unsubscribed, offline and hung owners through Postfix, filterd server and filterd client")
    func roundTrip() async throws {
        try await BrokerFixture.withFixture { fixture in
            let subscribed = try await fixture.addOwner("j.smith")
            let offline = try await fixture.addOwner("offline")
            let hung = try await fixture.addOwner("hung")
            let unsubscribed = fixture.owner("nobody")
            let filtering = fixture.filtering(
                deadline: Self.deadline,
                configuration: ["owners:", "  \"\(hung.user)\": {deadline: \(Self.hungDeadline)}"])
            try await FilterClientProcess.withRunning({
                try await .swift(broker: fixture.broker, credentials: subscribed, block: ["@spam.example"])
            }) { client in
                try await FilterClientProcess.withRunning({
                    try await .swift(broker: fixture.broker, credentials: hung, block: [])
                }) { hungClient in
                    hungClient.pause()
                    try await FilterChain.withRunningChain(filtering: filtering) { postfix, filterd in
                        try await Self.checkSubscribed(
                            subscribed.user, postfix: postfix, filterd: filterd, client: client)
                        try await Self.checkDeliveredAtOnce(unsubscribed, postfix: postfix, filterd: filterd)
                        try await Self.checkDeliveredAtOnce(offline.user, postfix: postfix, filterd: filterd)
                        #expect(filterd.logLines(containing: "Owner's client is offline").count == 1)

                        let started = ContinuousClock.now
                        try await Swaks.send(port: postfix.smtpPort, to: [hung.user], subject: "to a hung client")
                            .requireSuccess()
                        _ = try await postfix.waitForMaildir(
                            user: localPart(hung.user), count: 1, timeout: .seconds(30))
                        let elapsed = ContinuousClock.now - started
                        #expect(elapsed >= .seconds(Self.hungDeadline), "delivered before the deadline: \(elapsed)")
                        #expect(elapsed < .seconds(Self.deadline), "the owner's deadline did not apply: \(elapsed)")
                        #expect(filterd.logLines(containing: "No reply before the deadline").count == 1)
                        try await filterd.waitForEmptySpool()
                    }
                }
            }
        }
    }

    /// A blocked sender's mail is not delivered and leaves the spool; other mail arrives intact.
    private static func checkSubscribed(
        _ owner: String, postfix: PostfixInstance, filterd: FilterdProcess, client: FilterClientProcess
    ) async throws {
        let token = UUID().uuidString
        try await Swaks.send(
            port: postfix.smtpPort, from: "bulk@spam.example", to: [owner], subject: "blocked \(token)"
        ).requireSuccess()
        try await filterd.waitForLog(containing: "Denied; discarded")
        try await filterd.waitForEmptySpool()

        let body = "Line one of \(token).\n.a line with a leading dot\nlast line"
        try await Swaks.send(
            port: postfix.smtpPort, from: "friend@example.test", to: [owner], subject: "welcome \(token)", body: body,
            extraArguments: ["--header", "X-Test-Token: \(token)"]
        ).requireSuccess()
        let delivered = try await postfix.waitForMaildir(user: localPart(owner), count: 1)
        try await filterd.waitForEmptySpool()
        #expect(delivered.count == 1)
        let message = try #require(delivered.first)
        #expect(message.headerValue("Subject") == "welcome \(token)")
        #expect(message.headerValue("X-Test-Token") == token)
        // swaks ends the body with an empty line of its own; the body proper must be unchanged.
        let contents = message.contents.replacingOccurrences(of: "\r\n", with: "\n")
        let deliveredBody = try #require(contents.range(of: "\n\n").map { contents[$0.upperBound...] })
        #expect(deliveredBody.trimmingCharacters(in: .newlines) == body)
        #expect(try postfix.deliveredMessages(user: localPart(owner)).count == 1, "the blocked sender's mail arrived")
        #expect(filterd.logLines(containing: "Owner decided").count == 2)
        #expect(client.logLines(containing: "Answered").count == 2)
        #expect(client.logLines(containing: "filter.action=deny").count == 1)
    }

    /// Mail to an owner without a client arrives without waiting for the deadline.
    private static func checkDeliveredAtOnce(_ owner: String, postfix: PostfixInstance, filterd: FilterdProcess)
        async throws
    {
        let started = ContinuousClock.now
        try await Swaks.send(port: postfix.smtpPort, to: [owner], subject: "no client").requireSuccess()
        _ = try await postfix.waitForMaildir(user: localPart(owner), count: 1, timeout: .seconds(Self.deadline))
        let elapsed = ContinuousClock.now - started
        #expect(elapsed < .seconds(Self.deadline / 2), "\(owner): delivered only after \(elapsed)")
    }

    @Test("the Python example client decides for its owner against filterd server")
    func pythonClientDecides() async throws {
        try await BrokerFixture.withFixture { fixture in
            let owner = try await fixture.addOwner("py.client")
            try await FilterClientProcess.withRunning({
                try await .python(broker: fixture.broker, credentials: owner, block: ["@spam.example"])
            }) { _ in
                try await FilterChain.withRunningChain(filtering: fixture.filtering(deadline: Self.deadline)) {
                    postfix, filterd in
                    try await Swaks.send(
                        port: postfix.smtpPort, from: "bulk@spam.example", to: [owner.user], subject: "blocked"
                    ).requireSuccess()
                    try await filterd.waitForLog(containing: "Denied; discarded")
                    try await filterd.waitForEmptySpool()
                    let token = UUID().uuidString
                    try await Swaks.send(
                        port: postfix.smtpPort, from: "friend@example.test", to: [owner.user],
                        subject: "passed \(token)"
                    ).requireSuccess()
                    let delivered = try await postfix.waitForMaildir(user: localPart(owner.user), count: 1)
                    try await filterd.waitForEmptySpool()
                    #expect(delivered.map { $0.headerValue("Subject") } == ["passed \(token)"])
                    #expect(filterd.logLines(containing: "Owner decided").count == 2)
                    #expect(filterd.logLines(containing: "Rejected a reply").isEmpty)
                    #expect(filterd.logLines(containing: "No reply before the deadline").isEmpty)
                }
            }
        }
    }
}
