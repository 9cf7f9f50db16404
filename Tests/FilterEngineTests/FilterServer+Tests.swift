import FilterCore
import FilterProcessors
import FilterQuarantine
import FilterQueue
import FilterSMTP
import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import ServiceLifecycle
import Testing

@testable import FilterEngine

/// Answers every request with what `answer` says.
private struct Answering: Processor {
    let name = "answering"
    let answer: @Sendable (ProcessorRequest) -> ProcessorOutcome
    func process(_ request: ProcessorRequest, verdict: Verdict) async throws -> ProcessorOutcome { answer(request) }
}

/// Remembers which request ids it has seen, to answer differently the second time.
private final class SeenRequests: Sendable {
    let ids = NIOLockedValueBox<[String]>([])
    /// Records `id`; returns how many times it was seen before.
    func see(_ id: String) -> Int {
        ids.withLockedValue { ids in
            defer { ids.append(id) }
            return ids.filter { $0 == id }.count
        }
    }
}

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
        to port: Int, subject: String, from sender: String = "a@example.test", recipients: [String] = ["b@example.test"],
        notify: DSNNotify? = nil
    ) async throws -> TransactionResult {
        let client = SMTPClient(configuration: SMTPClientConfiguration(heloName: "sender.test", port: port))
        defer { Task { await client.shutdown() } }
        let message = "From: \(sender)\r\nTo: b@example.test\r\nSubject: \(subject)\r\n\r\nHello\r\n"
        return try await client.send(
            OutboundTransaction(
                mailFrom: sender, recipients: recipients.map { EnvelopeRecipient(address: $0, notify: notify) },
                client: ClientInfo(name: "origin.example", address: "192.0.2.7"),
                content: .bytes(ByteBuffer(string: message))),
            logger: logger)
    }

    /// Runs an `EmbeddedFilter` with `clients` on a fresh spool (removed afterwards) and an
    /// in-memory next hop, until `body` returns.
    /// - Parameters:
    ///   - configure: Changes to the server's configuration.
    ///   - body: Gets the filter, the next hop, the spool directory and the SMTP port.
    private func withEmbeddedFilter(
        clients: [EmbeddedFilter.Client], configure: (inout FilterServerConfiguration) -> Void = { _ in },
        _ body: (EmbeddedFilter, MemoryNextHop, String, Int) async throws -> Void
    ) async throws {
        let spool = FileManager.default.temporaryDirectory.appendingPathComponent("filterd-embedded-\(UUID())").path
        defer { try? FileManager.default.removeItem(atPath: spool) }
        try await withNextHop { hop, hopPort in
            var server = configuration(nextHopPort: hopPort, spool: spool)
            configure(&server)
            let filter = try EmbeddedFilter(server: server, clients: clients, logger: logger)
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await filter.run() }
                defer { group.cancelAll() }
                var addresses = filter.server.listeningAddresses.makeAsyncIterator()
                let port = await addresses.next()!.port!
                try await body(filter, hop, spool, port)
            }
        }
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
        try await withEmbeddedFilter(
            clients: [
                .init(configuration: .init(owner: "alice@example.com"), pipeline: Pipeline([try SenderList(options: .init(block: ["@spam.example"]))])),
                .init(configuration: .init(owner: "bob@example.com"), pipeline: Pipeline([])),
            ]
        ) { filter, hop, spool, port in
            let recipients = ["Alice+news@example.com", "bob@example.com", "carol@example.com"]
            let result = try await send(to: port, subject: "embedded", from: "bulk@spam.example", recipients: recipients)
            #expect(result.dataReply?.code == 250)
            try await waitFor { (try? SpoolInspector(directory: spool).entries().isEmpty) == true }
            #expect(try SpoolInspector(directory: spool).entries().isEmpty)
            let delivered = hop.messages.withLockedValue { $0 }
            #expect(delivered.flatMap { $0.0.recipients.map(\.address) }.sorted() == ["bob@example.com", "carol@example.com"])
        }
    }

    /// Each owner's events queue receives the final outcome of each of their recipients, as
    /// wire JSON: alice's denied copy and bob's delivered one; carol (no client, no events
    /// queue) costs nothing. Alice may not read bob's events.
    @Test(.timeLimit(.minutes(1))) func embeddedFilterPublishesEachOwnersOutcomes() async throws {
        try await withEmbeddedFilter(
            clients: [
                .init(configuration: .init(owner: "alice@example.com"), pipeline: Pipeline([try SenderList(options: .init(block: ["@spam.example"]))])),
                .init(configuration: .init(owner: "bob@example.com"), pipeline: Pipeline([])),
            ]
        ) { filter, hop, spool, port in
            let alice = InMemoryTransport(broker: filter.broker, user: "alice@example.com")
            let bob = InMemoryTransport(broker: filter.broker, user: "bob@example.com")
            var aliceEvents = try await alice.events(owner: "alice@example.com", prefetch: 0).makeAsyncIterator()
            var bobEvents = try await bob.events(owner: "bob@example.com", prefetch: 0).makeAsyncIterator()
            await #expect("alice reading bob's events") {
                try await alice.events(owner: "bob@example.com", prefetch: 0)
            } throws: { error in
                (error as? TransportError)?.code == .accessRefused
            }
            let recipients = ["Alice+news@example.com", "bob@example.com", "carol@example.com"]
            let result = try await send(to: port, subject: "events", from: "bulk@spam.example", recipients: recipients)
            #expect(result.dataReply?.code == 250)

            let aliceDelivery = try #require(try await aliceEvents.next())
            #expect(aliceDelivery.type == "mailfilter.event.v1")
            let aliceEvent = try OutcomeEvent(wireJSON: aliceDelivery.body)
            #expect(aliceDelivery.id == aliceEvent.id)
            #expect(aliceEvent.owner == "alice@example.com")
            #expect(aliceEvent.recipient == "Alice+news@example.com")
            #expect(aliceEvent.sender == "bulk@spam.example")
            #expect(aliceEvent.state == "denied")
            #expect(aliceEvent.action == .deny)
            #expect(aliceEvent.source == .client)
            #expect(aliceEvent.reason != nil)
            try await alice.acknowledge(aliceDelivery)

            let bobEvent = try OutcomeEvent(wireJSON: try #require(try await bobEvents.next()).body)
            #expect(bobEvent.owner == "bob@example.com")
            #expect(bobEvent.state == "delivered")
            #expect(bobEvent.action == .pass)
            #expect(bobEvent.source == .client)
            #expect(bobEvent.queueID == aliceEvent.queueID)
            #expect(bobEvent.detail?.hasPrefix("250") == true)
            let delivered = hop.messages.withLockedValue { $0.flatMap { $0.0.recipients.map(\.address) } }
            #expect(delivered.contains("bob@example.com"), "bob's event follows his delivery")
            await alice.shutdown()
            await bob.shutdown()
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

    /// Three owners, three actions, one message: each delivered copy carries only its owner's
    /// edits; alice's two addresses share one transaction because their copies are identical;
    /// bob's spam copy is tagged; carol's forward goes to the allowed address instead of her.
    @Test func eachOwnersActionIsAppliedToItsOwnCopy() async throws {
        try await withEmbeddedFilter(
            clients: [
                .init(configuration: .init(owner: "alice@example.com"), pipeline: Pipeline([Answering { _ in
                    .decide(Decision(.pass, reason: "friend"), verdict: Verdict(addHeaders: [.init(name: "X-Alice", value: "a")]))
                }])),
                .init(configuration: .init(owner: "bob@example.com"), pipeline: Pipeline([Answering { _ in
                    .decide(Decision(.spam, reason: "bulk"), verdict: Verdict(score: 8, addHeaders: [.init(name: "X-Bob", value: "b")]))
                }])),
                .init(configuration: .init(owner: "carol@example.com"), pipeline: Pipeline([Answering { _ in
                    .decide(Decision(.forward, reason: "away", forward: ["carol@partner.example"]), verdict: Verdict())
                }])),
            ],
            configure: { server in
                server.filtering.actions.forwardDomains = ["partner.example"]
                server.filtering.actions.spamSubjectTag = "[SPAM]"
            }
        ) { filter, hop, spool, port in
            let recipients = ["alice@example.com", "alice+lists@example.com", "bob@example.com", "carol@example.com"]
            #expect(try await send(to: port, subject: "actions", recipients: recipients).dataReply?.code == 250)
            try await waitFor { (try? SpoolInspector(directory: spool).entries().isEmpty) == true }
            let delivered = hop.messages.withLockedValue { $0 }
            #expect(delivered.count == 3)
            func copy(for address: String) -> (Envelope, String)? {
                delivered.first { $0.0.recipients.map(\.address).contains(address) }
            }
            let alice = try #require(copy(for: "alice@example.com"))
            #expect(alice.0.recipients.map(\.address) == ["alice@example.com", "alice+lists@example.com"])
            #expect(alice.1.contains("X-Alice: a\r\nX-Filter-Verdict: action=pass; owner=alice@example.com; source=client; reason=\"friend\"\r\n\r\nHello"))
            #expect(!alice.1.contains("X-Bob") && !alice.1.contains("X-Spam"))
            let bob = try #require(copy(for: "bob@example.com"))
            #expect(bob.1.contains("Subject: [SPAM] actions\r\n"))
            #expect(bob.1.contains("X-Bob: b\r\nX-Spam-Flag: YES\r\nX-Spam-Score: 8.0\r\n"))
            #expect(!bob.1.contains("X-Alice"))
            let carol = try #require(copy(for: "carol@partner.example"))
            #expect(carol.0.recipients.map(\.address) == ["carol@partner.example"])
            #expect(carol.0.recipients.first?.originalRecipient == "rfc822;carol@example.com")
            #expect(carol.1.contains("X-Filter-Verdict: action=forward; owner=carol@example.com"))
            #expect(copy(for: "carol@example.com") == nil)
        }
    }

    /// `pending` holds the recipient in the spool; it is asked again with the same request id
    /// after `retryAfter`, and the second answer is applied.
    @Test func aPendingRecipientIsHeldAndAskedAgainWithTheSameID() async throws {
        let seen = SeenRequests()
        try await withEmbeddedFilter(
            clients: [
                .init(configuration: .init(owner: "dave@example.com"), pipeline: Pipeline([Answering { request in
                    seen.see(request.id) == 0
                        ? .decide(Decision(.pending, retryAfter: 1), verdict: Verdict())
                        : .decide(Decision(.pass, reason: "greylist passed"), verdict: Verdict())
                }]))
            ]
        ) { filter, hop, spool, port in
            #expect(try await send(to: port, subject: "greylisted", recipients: ["dave@example.com"]).dataReply?.code == 250)
            try await waitFor { (try? SpoolInspector(directory: spool).entries().first?.recipients.first?.state) == .held }
            let held = try #require(try SpoolInspector(directory: spool).entries().first)
            #expect(held.recipients.first?.heldUntil != nil)
            #expect(hop.messages.withLockedValue { $0.isEmpty })
            try await waitFor { !hop.messages.withLockedValue { $0.isEmpty } }
            let delivered = hop.messages.withLockedValue { $0 }
            #expect(delivered.first?.1.contains("reason=\"greylist passed\"") == true)
            #expect(seen.ids.withLockedValue { $0 } == ["\(held.queueID).0", "\(held.queueID).0"])
        }
    }

    /// `virus` puts the message into the quarantine store for that recipient only, never
    /// delivers it to them, and notices go to the recipient and the administrator; `quarantine`
    /// stores without notices. Other recipients are delivered as usual.
    @Test func virusAndQuarantineGoToTheStoreWithNotices() async throws {
        try await withEmbeddedFilter(
            clients: [
                .init(configuration: .init(owner: "erin@example.com"), pipeline: Pipeline([Answering { _ in
                    .decide(Decision(.virus, reason: "Eicar-Test-Signature"), verdict: Verdict())
                }])),
                .init(configuration: .init(owner: "frank@example.com"), pipeline: Pipeline([Answering { _ in
                    .decide(Decision(.quarantine, reason: "held for review"), verdict: Verdict())
                }])),
            ],
            configure: { server in
                server.filtering.actions.virusNoticeToRecipient = true
                server.filtering.actions.virusNoticeTo = "security@example.com"
            }
        ) { filter, hop, spool, port in
            let recipients = ["erin@example.com", "frank@example.com", "gina@example.com"]
            #expect(try await send(to: port, subject: "infected", recipients: recipients).dataReply?.code == 250)
            try await waitFor { (try? SpoolInspector(directory: spool).entries().isEmpty) == true && hop.messages.withLockedValue { $0.count } == 3 }
            let store = try #require(filter.server.quarantine)
            let entries = try await store.list()
            #expect(entries.map(\.recipient).sorted() == ["erin@example.com", "frank@example.com"])
            let virus = try #require(entries.first { $0.action == .virus })
            #expect(virus.reason == "Eicar-Test-Signature")
            #expect(virus.verdict?.source == "client")
            #expect(virus.envelope.recipients.map(\.address) == ["erin@example.com"])
            #expect(String(decoding: try await store.message(virus.id), as: UTF8.self).contains("Subject: infected"))
            let delivered = hop.messages.withLockedValue { $0 }
            let copies = delivered.filter { $0.0.mailFrom == "a@example.test" }
            #expect(copies.flatMap { $0.0.recipients.map(\.address) } == ["gina@example.com"])
            let notices = delivered.filter { $0.0.mailFrom.isEmpty }
            #expect(notices.flatMap { $0.0.recipients.map(\.address) }.sorted() == ["erin@example.com", "security@example.com"])
            #expect(notices.allSatisfy { $0.1.contains("Auto-Submitted: auto-generated") && $0.1.contains("Quarantine id: \(virus.id)") })
        }
    }

    /// An owner who keeps answering `pending`: with NOTIFY=DELAY the sender gets one "delayed"
    /// DSN once the hold is longer than the notice time, and at the maximum hold the fallback
    /// action (pass) delivers the message, its verdict naming the maximum hold.
    @Test func aLongHoldReportsTheDelayOnceAndEndsWithTheFallback() async throws {
        try await withEmbeddedFilter(
            clients: [
                .init(configuration: .init(owner: "hal@example.com"), pipeline: Pipeline([Answering { _ in
                    .decide(Decision(.pending, retryAfter: 1), verdict: Verdict())
                }]))
            ],
            configure: { server in
                server.filtering.actions.maximumHold = .seconds(3)
                server.filtering.actions.delayNoticeAfter = .milliseconds(500)
            }
        ) { filter, hop, spool, port in
            #expect(try await send(to: port, subject: "held", recipients: ["hal@example.com"], notify: [.delay, .failure]).dataReply?.code == 250)
            try await waitFor { hop.messages.withLockedValue { $0.count } >= 2 }
            let delivered = hop.messages.withLockedValue { $0 }
            let reports = delivered.filter { $0.0.mailFrom.isEmpty }
            #expect(reports.count == 1)
            #expect(reports.first?.0.recipients.map(\.address) == ["a@example.test"])
            #expect(reports.first?.1.contains("Action: delayed") == true)
            #expect(reports.first?.1.contains("Status: 4.7.0") == true)
            let copies = delivered.filter { $0.0.mailFrom == "a@example.test" }
            #expect(copies.count == 1)
            #expect(copies.first?.1.contains("X-Filter-Verdict: action=pass; owner=hal@example.com; source=maximum-hold") == true)
        }
    }
}
