import FilterCore
import FilterEngine
import FilterProcessors
import FilterQueue
import FilterSMTP
import Foundation
import Logging
import NIOCore
import Testing

@testable import FilterWeb

/// Adds a score and a tag and lets the next processor look.
private struct Scorer: Processor {
    let name = "scorer"
    func process(_ request: ProcessorRequest, verdict: Verdict) async throws -> ProcessorOutcome {
        var verdict = verdict
        verdict.score = 6.5
        verdict.tags.append("suspicious")
        return .continue(verdict)
    }
}

/// Decides `action` with a reason.
private struct Decider: Processor {
    let name = "decider"
    let action: FilterAction
    func process(_ request: ProcessorRequest, verdict: Verdict) async throws -> ProcessorOutcome {
        .decide(Decision(action, reason: "decided \(action)"), verdict: verdict)
    }
}

@Suite struct MessageLogTests {
    let logger = Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }

    @Test func recordsOutcomesOfARealServerRunWithProcessorTraces() async throws {
        let spool = FileManager.default.temporaryDirectory.appendingPathComponent("filterd-messagelog-\(UUID())").path
        defer { try? FileManager.default.removeItem(atPath: spool) }
        var configuration = FilterServerConfiguration(hostname: "filter.test")
        configuration.smtp.port = 0
        configuration.spoolDirectory = spool
        // Nothing listens on port 1: mail that passes stays deferred, and the next hop fails.
        configuration.nextHop = .init(host: "127.0.0.1", port: 1)
        configuration.delivery.minimumBackoff = 60
        let log = try MessageLog(configuration: MessageLogConfiguration(path: spool + "/messages.sqlite"), server: configuration, logger: logger)
        let filter = try EmbeddedFilter(
            server: configuration,
            clients: [
                .init(configuration: .init(owner: "alice@example.test"), pipeline: Pipeline([Scorer(), Decider(action: .deny)])),
                .init(configuration: .init(owner: "bob@example.test"), pipeline: Pipeline([Decider(action: .quarantine)])),
            ],
            observers: [log], logger: logger)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await filter.run() }
            defer { group.cancelAll() }
            var addresses = filter.server.listeningAddresses.makeAsyncIterator()
            let port = try #require(await addresses.next()?.port)
            let smtp = SMTPClient(configuration: SMTPClientConfiguration(heloName: "sender.test", port: port))
            let message = "From: a@example.test\r\nTo: alice@example.test\r\nSubject: =?UTF-8?B?R3LDvMOfZQ==?= <script>\r\n\r\nHello\r\n"
            let result = try await smtp.send(
                OutboundTransaction(
                    mailFrom: "Sender@Example.test",
                    recipients: ["alice@example.test", "bob+news@example.test", "carol@example.test"].map { EnvelopeRecipient(address: $0) },
                    content: .bytes(ByteBuffer(string: message))),
                logger: logger)
            await smtp.shutdown()
            #expect(result.dataReply?.code == 250)

            var rows: [MessageLogRow] = []
            for _ in 0..<600 {
                rows = try await log.search(MessageLogQuery()).rows
                if rows.count >= 2, await filter.server.status().nextHop.lastAttemptAt != nil { break }
                try await Task.sleep(for: .milliseconds(100))
            }
            #expect(rows.count == 2)
            let alice = try #require(rows.first { $0.recipient == "alice@example.test" })
            #expect(alice.action == .deny)
            #expect(alice.state == "denied")
            #expect(alice.source == "client")
            #expect(alice.owner == "alice@example.test")
            #expect(alice.sender == "Sender@Example.test")
            #expect(alice.subject == "Grüße <script>")
            #expect(alice.reason == "decided deny")
            #expect(alice.score == 6.5)
            #expect(alice.tags == ["suspicious"])
            #expect(alice.processors.map(\.name) == ["scorer", "decider"])
            let bob = try #require(rows.first { $0.recipient == "bob+news@example.test" })
            #expect(bob.owner == "bob@example.test")
            #expect(bob.action == .quarantine)
            #expect(bob.state == "quarantined")
            #expect(bob.queueID == alice.queueID)
            #expect(try await log.rows(queueID: alice.queueID, owner: "bob@example.test").map(\.recipient) == ["bob+news@example.test"])

            // Carol has no client: pass, and the next hop is down, so she stays queued.
            let status = await filter.server.status()
            #expect(status.queueDepth == 1)
            #expect(status.receivedLastMinute == 1)
            #expect(status.nextHop.lastAttemptSucceeded == false)
            #expect(status.nextHop.lastReply?.isEmpty == false)
            let owners = await filter.server.knownOwners()
            #expect(owners.first { $0.owner == "alice@example.test" }?.subscription == .online(consumers: 1))
            #expect(owners.first { $0.owner == "carol@example.test" }?.subscription == Subscription.none)
            let counts = try await log.countsByAction(since: Date().addingTimeInterval(-3600))
            #expect(counts == [.deny: 1, .quarantine: 1])
        }
    }

    /// A delivered message to `count` recipients, as delivery hands it to its observers (its
    /// spool file does not exist: the subject is then recorded as missing).
    private func deliveredEntry(recipients count: Int) -> SpoolEntry {
        let addresses = (0..<count).map { "user\($0)@example.test" }
        return SpoolEntry(
            queueID: QueueID.generate(), envelope: Envelope(mailFrom: "sender@example.test", recipients: addresses.map { EnvelopeRecipient(address: $0) }),
            receivedAt: Date(), messageSize: 100,
            recipients: addresses.map { _ in RecipientDelivery(state: .delivered, detail: "250 2.0.0 Ok", updatedAt: Date()) })
    }

    private func openLog(_ configure: (inout MessageLogConfiguration) -> Void = { _ in }) throws -> (MessageLog, String) {
        let spool = FileManager.default.temporaryDirectory.appendingPathComponent("filterd-messagelog-\(UUID())").path
        var server = FilterServerConfiguration(hostname: "filter.test")
        server.spoolDirectory = spool
        var configuration = MessageLogConfiguration(path: spool + "/messages.sqlite")
        configure(&configuration)
        return (try MessageLog(configuration: configuration, server: server, logger: logger), spool)
    }

    @Test func outcomesAreWrittenBehindDelivery() async throws {
        let (log, spool) = try openLog()
        defer { try? FileManager.default.removeItem(atPath: spool) }
        let entry = deliveredEntry(recipients: 300)
        for index in entry.recipients.indices {
            await log.recipientFinished(entry, at: index)
        }
        await log.flush()
        let page = try await log.search(MessageLogQuery(pageSize: 1000))
        #expect(page.rows.count == 300)
        #expect(Set(page.rows.map(\.recipient)).count == 300)
        #expect(page.rows.allSatisfy { $0.state == "delivered" && $0.subject == nil })
    }

    @Test func aFullQueueDropsRowsNeverHoldsDelivery() async throws {
        let (log, spool) = try openLog { $0.maximumPendingRows = 0 }
        defer { try? FileManager.default.removeItem(atPath: spool) }
        let entry = deliveredEntry(recipients: 3)
        for index in entry.recipients.indices {
            await log.recipientFinished(entry, at: index)
        }
        await log.flush()
        #expect(try await log.search(MessageLogQuery()).rows.isEmpty)
    }

    /// Stopping finishes the open live streams; finishing runs their termination handlers,
    /// which take the subscriber lock, so it must happen outside it.
    @Test func stoppingWithAnOpenLiveStreamEndsTheStream() async throws {
        let (log, spool) = try openLog()
        defer { try? FileManager.default.removeItem(atPath: spool) }
        let rows = log.liveRows()
        let reader = Task { await rows.reduce(0) { count, _ in count + 1 } }
        let runner = Task { try await log.run() }
        try await Task.sleep(for: .milliseconds(100))
        runner.cancel()
        try await runner.value
        #expect(await reader.value == 0)
        #expect(log.liveSubscriberCount == 0)
    }

    @Test func subjectsAreDecodedAndLongOnesCut() {
        let folded = (0..<2000).map { "word\($0)" }.joined(separator: "\r\n ")
        let long = MessageLog.subject(in: Array("From: a@example.test\r\nSubject: \(folded)\r\n\r\nbody\r\n".utf8))
        #expect(long?.count == MessageLog.maximumSubjectCharacters)
        #expect(long?.hasPrefix("word0 word1 ") == true)
        let encoded = MessageLog.subject(in: Array("Subject: =?UTF-8?B?R3LDvMOfZQ==?=\r\n\r\n".utf8))
        #expect(encoded == "Grüße")
    }

    private func withLog(_ body: (MessageLog) async throws -> Void) async throws {
        let fixture = try ConsoleFixture()
        defer { fixture.remove() }
        try await body(fixture.messageLog)
    }

    private func row(_ queueID: String, recipient: String, sender: String = "s@example.test", action: FilterAction = .pass, at date: Date = Date()) -> MessageLogRow {
        MessageLogRow(
            eventID: queueID + "." + recipient, queueID: queueID, receivedAt: date, finishedAt: date, sender: sender, recipient: recipient,
            owner: recipient, subject: nil, action: action, source: "client", state: "delivered")
    }

    @Test func searchesByQueueIDSenderRecipientAndActionNewestFirst() async throws {
        try await withLog { log in
            let now = Date()
            _ = try await log.insert(row("AAA1", recipient: "alice@example.test", sender: "News@Shop.test", at: now.addingTimeInterval(-3)))
            _ = try await log.insert(row("BBB2", recipient: "bob@example.test", action: .spam, at: now.addingTimeInterval(-2)))
            _ = try await log.insert(row("CCC3", recipient: "carol_x@example.test", action: .spam, at: now.addingTimeInterval(-1)))
            #expect(try await log.search(MessageLogQuery()).rows.map(\.queueID) == ["CCC3", "BBB2", "AAA1"])
            #expect(try await log.search(MessageLogQuery(text: "bbb")).rows.map(\.queueID) == ["BBB2"])
            #expect(try await log.search(MessageLogQuery(text: "news@shop")).rows.map(\.queueID) == ["AAA1"])
            #expect(try await log.search(MessageLogQuery(text: "ALICE@")).rows.map(\.queueID) == ["AAA1"])
            #expect(try await log.search(MessageLogQuery(action: .spam)).rows.map(\.queueID) == ["CCC3", "BBB2"])
            #expect(try await log.search(MessageLogQuery(text: "example", action: .pass)).rows.map(\.queueID) == ["AAA1"])
            #expect(try await log.search(MessageLogQuery(owner: "BOB@example.test")).rows.map(\.queueID) == ["BBB2"])
            // LIKE wildcards in the search text are literal.
            #expect(try await log.search(MessageLogQuery(text: "%")).rows.isEmpty)
            #expect(try await log.search(MessageLogQuery(text: "l_x")).rows.map(\.queueID) == ["CCC3"])
            #expect(try await log.search(MessageLogQuery(text: "o_x")).rows.isEmpty)
            let first = try await log.search(MessageLogQuery(page: 1, pageSize: 2))
            #expect(first.rows.map(\.queueID) == ["CCC3", "BBB2"])
            #expect(first.hasMore)
            let second = try await log.search(MessageLogQuery(page: 2, pageSize: 2))
            #expect(second.rows.map(\.queueID) == ["AAA1"])
            #expect(!second.hasMore)
        }
    }

    @Test func repeatedOutcomeIsRecordedOnce() async throws {
        try await withLog { log in
            let first = try await log.insert(row("AAA1", recipient: "alice@example.test"))
            let repeated = try await log.insert(row("AAA1", recipient: "alice@example.test"))
            let rows = try await log.search(MessageLogQuery()).rows
            #expect(first != nil)
            #expect(repeated == nil)
            #expect(rows.count == 1)
        }
    }

    @Test func pruneDeletesRowsOlderThanTheRetention() async throws {
        try await withLog { log in
            let now = Date()
            #expect(log.configuration.retention == .seconds(7 * 24 * 3600))
            _ = try await log.insert(row("OLD", recipient: "alice@example.test", at: now.addingTimeInterval(-8 * 24 * 3600)))
            _ = try await log.insert(row("EDGE", recipient: "alice@example.test", at: now.addingTimeInterval(-6 * 24 * 3600)))
            _ = try await log.insert(row("NEW", recipient: "alice@example.test", at: now))
            #expect(try await log.prune(now: now) == 1)
            #expect(try await log.search(MessageLogQuery()).rows.map(\.queueID) == ["NEW", "EDGE"])
            #expect(try await log.owners().map(\.owner) == ["alice@example.test"])
        }
    }
}
