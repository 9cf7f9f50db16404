import Foundation
import Logging
import NIOCore
import Testing

@testable import FilterCore

@Suite struct SpoolRecoveryTests {
    @Test func clearsTemporaryFilesAndReturnsPendingEntries() async throws {
        let temporary = try TemporarySpool()
        defer { temporary.remove() }
        let spool = try temporary.open(flushThreshold: 4)
        var first = try await commitMessage("first", to: ["a@example.com", "b@example.com"], in: spool)
        let second = try await commitMessage("second", in: spool)
        first.recipients[0] = RecipientDelivery(
            state: .delivered, detail: "250 ok", updatedAt: Date(timeIntervalSince1970: 1_700_000_200))
        first.recipients[1] = RecipientDelivery(
            state: .deferred, detail: "421 busy", updatedAt: Date(timeIntervalSince1970: 1_700_000_200))
        first.attempts = 2
        first.nextAttemptAt = Date(timeIntervalSince1970: 1_700_000_500)
        try await spool.update(first)
        // Interrupted sessions: a half-written message and a stray envelope staging file.
        let unfinished = spool.beginMessage()
        try await unfinished.write(ByteBuffer(string: "never acknowledged"))
        try temporary.write("{}", to: "tmp", "X.env")

        let (logger, records) = RecordingLogHandler.logger()
        let recovered = try await temporary.open().recover(logger: logger)

        #expect(recovered == [first, second].sorted { $0.queueID < $1.queueID })
        #expect(try temporary.names(in: "tmp").isEmpty)
        #expect(try temporary.names(in: "corrupt").isEmpty)
        #expect(records.records.allSatisfy { $0.level < .warning })
        await unfinished.abort()
    }

    @Test func removesEntriesWhoseRecipientsAreAllFinal() async throws {
        let temporary = try TemporarySpool()
        defer { temporary.remove() }
        let spool = try temporary.open()
        var done = try await commitMessage("done", to: ["a@example.com", "b@example.com"], in: spool)
        done.recipients = done.recipients.map { _ in RecipientDelivery(state: .delivered, updatedAt: Date()) }
        done.recipients[1].state = .failed
        try await spool.update(done)
        // An interrupted removal whose .msg unlink reached the disk before the .env unlink.
        var halfRemoved = try await commitMessage("half removed", in: spool)
        halfRemoved.recipients[0].state = .delivered
        try await spool.update(halfRemoved)
        try FileManager.default.removeItem(atPath: spool.messagePath(for: halfRemoved.queueID))

        let (logger, _) = RecordingLogHandler.logger()
        #expect(try await spool.recover(logger: logger).isEmpty)
        #expect(try temporary.names(in: "queue").isEmpty)
        #expect(try temporary.names(in: "corrupt").isEmpty)
    }

    @Test func keepsEntriesInAStateItDoesNotKnow() async throws {
        let temporary = try TemporarySpool()
        defer { temporary.remove() }
        let spool = try temporary.open()
        var held = try await commitMessage("held", in: spool)
        held.recipients[0].state = RecipientState(name: "awaitingVerdict", isFinal: false)
        try await spool.update(held)
        let (logger, _) = RecordingLogHandler.logger()
        #expect(try await spool.recover(logger: logger) == [held])
    }

    /// Damage done to the files of one committed message, and what must end up in `corrupt/`.
    struct Damage: CustomTestStringConvertible, Sendable {
        var name: String
        var movedExtensions: [String]
        var apply: @Sendable (TemporarySpool, QueueID) throws -> Void
        var testDescription: String { name }
    }

    static let damages: [Damage] = [
        Damage(name: "unparsable JSON", movedExtensions: ["env", "msg"]) { temporary, id in
            try temporary.write("{\"version\": 1, \"entry\": {", to: "queue", "\(id).env")
        },
        Damage(name: "missing message file", movedExtensions: ["env"]) { temporary, id in
            try FileManager.default.removeItem(atPath: temporary.path("queue", "\(id).msg"))
        },
        Damage(name: "short message file", movedExtensions: ["env", "msg"]) { temporary, id in
            try temporary.write("trunc", to: "queue", "\(id).msg")
        },
        Damage(name: "orphan message file", movedExtensions: ["msg"]) { temporary, id in
            try FileManager.default.removeItem(atPath: temporary.path("queue", "\(id).env"))
        },
    ]

    @Test(arguments: damages)
    func movesDamagedFilesAside(_ damage: Damage) async throws {
        let temporary = try TemporarySpool()
        defer { temporary.remove() }
        let spool = try temporary.open()
        let healthy = try await commitMessage("healthy message", in: spool)
        let damaged = try await commitMessage("damaged message", in: spool)
        try damage.apply(temporary, damaged.queueID)

        let (logger, records) = RecordingLogHandler.logger()
        let recovered = try await spool.recover(logger: logger)

        #expect(recovered == [healthy])
        #expect(try temporary.names(in: "queue") == ["\(healthy.queueID).env", "\(healthy.queueID).msg"])
        #expect(try temporary.names(in: "corrupt") == damage.movedExtensions.map { "\(damaged.queueID).\($0)" })
        let warnings = records.records.filter { $0.level == .warning }
        #expect(warnings.count == damage.movedExtensions.count)
        #expect(warnings.allSatisfy { $0.metadata["mail.queue.id"] == "\(damaged.queueID)" })
    }

    @Test func movesUnknownFilesAsideAndNeverOverwritesCorruptFiles() async throws {
        let temporary = try TemporarySpool()
        defer { temporary.remove() }
        let spool = try temporary.open()
        try temporary.write("old", to: "corrupt", "notes.txt")
        try temporary.write("new", to: "queue", "notes.txt")
        let (logger, records) = RecordingLogHandler.logger()
        #expect(try await spool.recover(logger: logger).isEmpty)
        #expect(try temporary.names(in: "corrupt") == ["notes.txt", "notes.txt.1"])
        #expect(records.records.filter { $0.level == .warning }.count == 1)
    }
}
