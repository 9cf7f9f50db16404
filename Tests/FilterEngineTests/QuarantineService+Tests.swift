import FilterCore
import FilterProcessors
import FilterQuarantine
import FilterSMTP
import Foundation
import Logging
import NIOConcurrencyHelpers
import Testing

@testable import FilterEngine

/// The quarantine on a running server: control commands through ``ControlHandler``, release
/// through the spool to the next hop, periodic digests and expiry.
@Suite(.serialized) struct QuarantineServiceTests {
    let logger = Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }

    private func configuration(
        nextHopPort: Int, spool: String, quarantine: QuarantineConfiguration = QuarantineConfiguration()
    ) -> FilterServerConfiguration {
        var configuration = FilterServerConfiguration(hostname: "filter.test")
        configuration.quarantine = quarantine
        configuration.smtp.port = 0
        configuration.nextHop = .init(host: "127.0.0.1", port: nextHopPort)
        configuration.spoolDirectory = spool
        return configuration
    }

    private func withSpool<T>(_ body: (String) async throws -> T) async throws -> T {
        let spool = FileManager.default.temporaryDirectory.appendingPathComponent("filterd-quarantine-\(UUID())").path
        defer { try? FileManager.default.removeItem(atPath: spool) }
        return try await body(spool)
    }

    /// Runs `body` while `service` runs; cancels it afterwards.
    private func whileRunning(_ service: @escaping @Sendable () async throws -> Void, _ body: () async throws -> Void) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await service() }
            do {
                try await body()
            } catch {
                group.cancelAll()
                throw error
            }
            group.cancelAll()
        }
    }

    /// Polls `condition` every 50 ms for up to 20 s.
    private func waitFor(_ condition: () async throws -> Bool) async throws {
        for _ in 0..<400 where try await !condition() {
            try await Task.sleep(for: .milliseconds(50))
        }
    }

    @discardableResult
    private func quarantine(
        _ store: QuarantineStore, id: String, sender: String = "bulk@spam.example", recipient: String, owner: String? = nil,
        subject: String, at time: Date = Date()
    ) async throws -> QuarantineEntry {
        try await store.add(
            id: id, envelope: Envelope(mailFrom: sender, recipients: [EnvelopeRecipient(address: recipient)]),
            queueID: "Q\(id)", owner: owner ?? recipient.lowercased(), action: .quarantine, reason: "held by a rule",
            receivedAt: time, message: Array("From: \(sender)\r\nSubject: \(subject)\r\n\r\nbody\r\n".utf8), quarantinedAt: time)
    }

    /// Alice's pipeline blocks the sender, so only a release that is not asked again can
    /// reach her.
    @Test func listShowReleaseAndDeleteThroughTheControlHandler() async throws {
        try await withSpool { spool in
            try await withNextHop { hop, hopPort in
                let filter = try EmbeddedFilter(
                    server: configuration(nextHopPort: hopPort, spool: spool),
                    clients: [
                        .init(
                            configuration: .init(owner: "alice@example.com"),
                            pipeline: Pipeline([try SenderList(options: .init(block: ["@spam.example"]))]))
                    ],
                    logger: logger)
                let store = try #require(filter.server.quarantine)
                #expect(store.directory == spool + "/quarantine")
                let handler = ControlHandler(server: filter.server)
                let now = Date()
                try await quarantine(store, id: "A.0", recipient: "alice@example.com", subject: "first", at: now.addingTimeInterval(-30))
                try await quarantine(store, id: "B.0", recipient: "bob@example.com", subject: "second", at: now.addingTimeInterval(-20))
                try await quarantine(store, id: "C.0", recipient: "Alice+news@example.com", owner: "alice@example.com", subject: "third", at: now.addingTimeInterval(-10))

                try await whileRunning({ try await filter.run() }) {
                    let all = await handler.handle(ControlRequest(command: .quarantineList))
                    #expect(all.ok)
                    #expect(all.quarantineEntries?.map(\.id) == ["A.0", "B.0", "C.0"])
                    #expect(all.message == "3 entries in the quarantine")
                    let alices = await handler.handle(ControlRequest(command: .quarantineList, recipient: "alice@example.com"))
                    #expect(alices.quarantineEntries?.map(\.id) == ["A.0", "C.0"])
                    let recent = await handler.handle(ControlRequest(command: .quarantineList, since: now.addingTimeInterval(-15)))
                    #expect(recent.quarantineEntries?.map(\.id) == ["C.0"])

                    let shown = await handler.handle(ControlRequest(command: .quarantineShow, quarantineID: "A.0"))
                    #expect(shown.ok)
                    #expect(shown.quarantineEntries?.first?.recipient == "alice@example.com")
                    #expect(shown.headers == "From: bulk@spam.example\r\nSubject: first")
                    let unknown = await handler.handle(ControlRequest(command: .quarantineShow, quarantineID: "Z.9"))
                    #expect(!unknown.ok)
                    #expect(unknown.message == "Z.9: no such entry in the quarantine")
                    let noID = await handler.handle(ControlRequest(command: .quarantineRelease))
                    #expect(!noID.ok)

                    let released = await handler.handle(ControlRequest(command: .quarantineRelease, quarantineID: "A.0"))
                    #expect(released.ok, "\(released.message)")
                    #expect(released.message.hasPrefix("A.0 released to <alice@example.com> as "))
                    try await waitFor { !hop.messages.withLockedValue { $0.isEmpty } }
                    let delivered = hop.messages.withLockedValue { $0 }
                    #expect(delivered.count == 1)
                    #expect(delivered.first?.0.mailFrom == "bulk@spam.example")
                    #expect(delivered.first?.0.recipients.map(\.address) == ["alice@example.com"])
                    #expect(delivered.first?.1.contains("Subject: first\r\n") == true)
                    #expect(try await store.entry("A.0") == nil)
                    #expect(!FileManager.default.fileExists(atPath: spool + "/quarantine/messages/A.0"))
                    let again = await handler.handle(ControlRequest(command: .quarantineRelease, quarantineID: "A.0"))
                    #expect(!again.ok)

                    let deleted = await handler.handle(ControlRequest(command: .quarantineDelete, quarantineID: "B.0"))
                    #expect(deleted.ok)
                    #expect(deleted.message == "B.0 deleted from the quarantine")
                    #expect(try await store.entry("B.0") == nil)
                    let deletedAgain = await handler.handle(ControlRequest(command: .quarantineDelete, quarantineID: "B.0"))
                    #expect(!deletedAgain.ok)

                    try await waitFor { (try? SpoolInspector(directory: spool).entries().isEmpty) == true }
                    #expect(try SpoolInspector(directory: spool).entries().isEmpty)
                    #expect(hop.messages.withLockedValue { $0.count } == 1, "only the released message is delivered")
                    #expect(try await store.list().map(\.id) == ["C.0"])
                }
            }
        }
    }

    @Test func twoReleasesOfOneEntryAtOnceDeliverItOnce() async throws {
        try await withSpool { spool in
            try await withNextHop { hop, hopPort in
                let server = try FilterServer(configuration: configuration(nextHopPort: hopPort, spool: spool), logger: logger)
                let store = try #require(server.quarantine)
                try await quarantine(store, id: "RACE.0", recipient: "alice@example.com", subject: "once")
                let handler = ControlHandler(server: server)
                try await whileRunning({ try await server.run() }) {
                    let request = ControlRequest(command: .quarantineRelease, quarantineID: "RACE.0")
                    async let first = handler.handle(request)
                    async let second = handler.handle(request)
                    let responses = await [first, second]
                    #expect(responses.filter(\.ok).count == 1)
                    let refused = try #require(responses.first { !$0.ok })
                    #expect(
                        refused.message == "RACE.0: no such entry in the quarantine"
                            || refused.message.hasSuffix("another command on RACE.0 is in progress; try again"))
                    try await waitFor { (try? SpoolInspector(directory: spool).entries().isEmpty) == true }
                    try await waitFor { !hop.messages.withLockedValue { $0.isEmpty } }
                    #expect(hop.messages.withLockedValue { $0.count } == 1)
                    #expect(try await store.list().isEmpty)
                }
            }
        }
    }

    @Test func digestsGoOutPerRecipientOnceDueAndOnlyForNewEntries() async throws {
        try await withSpool { spool in
            try await withNextHop { hop, hopPort in
                let server = try FilterServer(
                    configuration: configuration(
                        nextHopPort: hopPort, spool: spool,
                        quarantine: QuarantineConfiguration(digestInterval: .seconds(1), digestFrom: "quarantine@example.com")),
                    logger: logger)
                let store = try #require(server.quarantine)
                let past = Date().addingTimeInterval(-60)
                try await quarantine(store, id: "A.0", recipient: "alice@example.com", subject: "one", at: past)
                try await quarantine(store, id: "A.1", recipient: "alice@example.com", subject: "=?UTF-8?B?w4RwZmVs?=", at: past)
                try await quarantine(store, id: "B.0", recipient: "bob@example.com", subject: "three", at: past)

                try await whileRunning({ try await server.run() }) {
                    try await waitFor { hop.messages.withLockedValue { $0.count } >= 2 }
                    let digests = hop.messages.withLockedValue { $0 }
                    #expect(digests.count == 2)
                    #expect(digests.allSatisfy { $0.0.mailFrom.isEmpty })
                    let alice = try #require(digests.first { $0.0.recipients.map(\.address) == ["alice@example.com"] })
                    #expect(alice.1.contains("From: Mail quarantine <quarantine@example.com>\r\n"))
                    #expect(alice.1.contains("Subject: Quarantine digest: 2 new messages held for you\r\n"))
                    #expect(alice.1.contains("Auto-Submitted: auto-generated\r\n"))
                    #expect(alice.1.contains("Release with: filterctl quarantine release A.0"))
                    #expect(alice.1.contains("Subject: =C3=84pfel"))
                    let bob = try #require(digests.first { $0.0.recipients.map(\.address) == ["bob@example.com"] })
                    #expect(bob.1.contains("Release with: filterctl quarantine release B.0"))
                    try await waitFor { try await store.lastDigest(for: "bob@example.com") != nil }
                    #expect(try await store.lastDigest(for: "alice@example.com") != nil)
                    #expect(try await store.pendingDigests().isEmpty)

                    try await quarantine(store, id: "A.2", recipient: "alice@example.com", subject: "later")
                    try await waitFor { hop.messages.withLockedValue { $0.count } >= 3 }
                    let third = try #require(hop.messages.withLockedValue { $0.count == 3 ? $0[2] : nil })
                    #expect(third.0.recipients.map(\.address) == ["alice@example.com"])
                    #expect(third.1.contains("Subject: Quarantine digest: 1 new message held for you\r\n"))
                    #expect(third.1.contains("release A.2"))
                    #expect(!third.1.contains("release A.0"))
                    #expect(try await store.list().count == 4, "a digest deletes nothing")
                }
            }
        }
    }

    @Test func expiredEntriesAreDeletedByTheServer() async throws {
        try await withSpool { spool in
            try await withNextHop { _, hopPort in
                let server = try FilterServer(
                    configuration: configuration(
                        nextHopPort: hopPort, spool: spool,
                        quarantine: QuarantineConfiguration(retention: .seconds(1), expiryInterval: .seconds(1), digestInterval: .zero)),
                    logger: logger)
                let store = try #require(server.quarantine)
                try await whileRunning({ try await server.run() }) {
                    try await quarantine(store, id: "X.0", recipient: "alice@example.com", subject: "short-lived")
                    try await waitFor { try await store.list().isEmpty }
                    #expect(try await store.list().isEmpty)
                    #expect(!FileManager.default.fileExists(atPath: spool + "/quarantine/messages/X.0"))
                }
            }
        }
    }

    @Test func aDisabledQuarantineIsAnsweredAsSuch() async throws {
        try await withSpool { spool in
            let server = try FilterServer(
                configuration: configuration(nextHopPort: 1, spool: spool, quarantine: QuarantineConfiguration(isEnabled: false)),
                logger: logger)
            #expect(server.quarantine == nil)
            let response = await ControlHandler(server: server).handle(ControlRequest(command: .quarantineList))
            #expect(!response.ok)
            #expect(response.message == "the quarantine is disabled on this server")
            #expect(!FileManager.default.fileExists(atPath: spool + "/quarantine"))
        }
    }

    /// Requests and responses of older `filterctl`s and servers still decode.
    @Test func theControlProtocolStaysCompatible() throws {
        let request = try JSONDecoder().decode(ControlRequest.self, from: Data(#"{"command":"retryAll"}"#.utf8))
        #expect(request == ControlRequest(command: .retryAll))
        let response = try JSONDecoder().decode(ControlResponse.self, from: Data(#"{"ok":true,"message":"done"}"#.utf8))
        #expect(response == ControlResponse(ok: true, message: "done"))
        let list = ControlRequest(command: .quarantineList, recipient: "a@example.com", since: Date(timeIntervalSince1970: 5), limit: 3)
        #expect(try JSONDecoder().decode(ControlRequest.self, from: JSONEncoder().encode(list)) == list)
    }
}
