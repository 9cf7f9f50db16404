import FilterCore
import Foundation
import GRDB
import Testing

@testable import FilterQuarantine

/// A fresh store directory, removed afterwards.
func withStoreDirectory<T>(_ body: (String) async throws -> T) async throws -> T {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("quarantine-\(UUID())").path
    defer { try? FileManager.default.removeItem(atPath: directory) }
    return try await body(directory)
}

/// An envelope with one recipient.
func envelope(from sender: String = "sender@example.test", to recipient: String) -> Envelope {
    Envelope(
        mailFrom: sender, recipients: [EnvelopeRecipient(address: recipient, notify: [.failure])],
        client: ClientInfo(name: "origin.example", address: "192.0.2.9"))
}

/// A small message with a subject.
func message(subject: String) -> [UInt8] {
    Array("From: sender@example.test\r\nSubject: \(subject)\r\n\r\nbody of \(subject)\r\n".utf8)
}

@Suite struct QuarantineStoreTests {
    let start = Date(timeIntervalSince1970: 1_790_000_000)

    @discardableResult
    private func add(
        _ store: QuarantineStore, id: String, recipient: String = "alice@example.test", owner: String = "alice@example.test",
        at time: Date, subject: String = "hello"
    ) async throws -> QuarantineEntry {
        try await store.add(
            id: id, envelope: envelope(to: recipient), queueID: "Q\(id)", owner: owner, action: .quarantine,
            reason: "looks like phishing", receivedAt: time.addingTimeInterval(-5), message: message(subject: subject),
            quarantinedAt: time)
    }

    @Test func addStoresTheEntryAndItsMessage() async throws {
        try await withStoreDirectory { directory in
            let store = try QuarantineStore(directory: directory, retention: .seconds(3600))
            let entry = try await add(store, id: "AB12.0", at: start)
            #expect(entry.id == "AB12.0")
            #expect(entry.queueID == "QAB12.0")
            #expect(entry.sender == "sender@example.test")
            #expect(entry.recipient == "alice@example.test")
            #expect(entry.action == .quarantine)
            #expect(entry.reason == "looks like phishing")
            #expect(entry.quarantinedAt == start)
            #expect(entry.expiresAt == start.addingTimeInterval(3600))
            #expect(entry.size == message(subject: "hello").count)
            #expect(entry.envelope.recipients.first?.notify == [.failure])
            #expect(entry.envelope.client.address == "192.0.2.9")
            #expect(try await store.entry("AB12.0") == entry)
            #expect(try await store.message("AB12.0") == message(subject: "hello"))
            #expect(try await store.headerSection("AB12.0") == "From: sender@example.test\r\nSubject: hello")
            #expect(FileManager.default.fileExists(atPath: directory + "/messages/AB12.0"))
            #expect(try FileManager.default.contentsOfDirectory(atPath: directory + "/tmp").isEmpty)
        }
    }

    @Test func theVerdictIsKeptAndSurvivesReopening() async throws {
        try await withStoreDirectory { directory in
            let verdict = QuarantineVerdict(source: "client", score: 7.5, tags: ["phishing", "link"])
            let store = try QuarantineStore(directory: directory)
            let added = try await store.add(
                id: "VER.0", envelope: envelope(to: "alice@example.test"), queueID: "QVER", owner: "alice@example.test",
                action: .quarantine, reason: "phishing", receivedAt: start, message: message(subject: "v"), verdict: verdict,
                quarantinedAt: start)
            #expect(added.verdict == verdict)
            #expect(try await QuarantineStore(directory: directory).entry("VER.0")?.verdict == verdict)
            #expect(verdict.summary == "source=client score=7.5 tags=phishing,link")
            let without = try await add(store, id: "VER.1", at: start)
            #expect(without.verdict == nil)
        }
    }

    /// A store made before verdicts were kept (schema v1) opens, gains the column, and its
    /// entries read back without a verdict.
    @Test func aStoreFromBeforeVerdictsIsMigrated() async throws {
        try await withStoreDirectory { directory in
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            let database = try DatabaseQueue(path: directory + "/quarantine.sqlite")
            try await database.write { db in
                try db.execute(sql: """
                    CREATE TABLE grdb_migrations (identifier TEXT NOT NULL PRIMARY KEY);
                    INSERT INTO grdb_migrations VALUES ('v1');
                    CREATE TABLE entry (
                        sequence INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, queueID TEXT NOT NULL,
                        sender TEXT NOT NULL, recipient TEXT NOT NULL COLLATE NOCASE, owner TEXT NOT NULL COLLATE NOCASE,
                        action TEXT NOT NULL, reason TEXT NOT NULL, receivedAt REAL NOT NULL, quarantinedAt REAL NOT NULL,
                        expiresAt REAL NOT NULL, size INTEGER NOT NULL, envelope TEXT NOT NULL);
                    CREATE TABLE digest (recipient TEXT PRIMARY KEY COLLATE NOCASE, lastSequence INTEGER NOT NULL, lastDigestAt REAL NOT NULL);
                    """)
                let envelopeJSON = String(decoding: try JSONEncoder().encode(envelope(to: "alice@example.test")), as: UTF8.self)
                try db.execute(
                    sql: """
                        INSERT INTO entry (id, queueID, sender, recipient, owner, action, reason, receivedAt, quarantinedAt,
                            expiresAt, size, envelope)
                        VALUES ('OLD.0', 'QOLD', 's@example.test', 'alice@example.test', 'alice@example.test', 'virus', 'EICAR',
                            1790000000, 1790000000, 1900000000, 4, ?)
                        """,
                    arguments: [envelopeJSON])
            }
            try database.close()
            let store = try QuarantineStore(directory: directory)
            let old = try #require(try await store.entry("OLD.0"))
            #expect(old.action == .virus)
            #expect(old.verdict == nil)
        }
    }

    @Test func addingAnExistingIDReturnsTheExistingEntry() async throws {
        try await withStoreDirectory { directory in
            let store = try QuarantineStore(directory: directory)
            let first = try await add(store, id: "DUP.1", at: start, subject: "first")
            let second = try await add(store, id: "DUP.1", at: start.addingTimeInterval(60), subject: "second")
            #expect(second == first)
            #expect(try await store.list().count == 1)
            #expect(try await store.message("DUP.1") == message(subject: "first"))
        }
    }

    @Test func addRefusesUnsafeIDsAndEnvelopesWithoutOneRecipient() async throws {
        try await withStoreDirectory { directory in
            let store = try QuarantineStore(directory: directory)
            for id in ["../escape", "", ".hidden", "a/b", String(repeating: "x", count: 201)] {
                let error = await #expect(throws: QuarantineError.self) { try await add(store, id: id, at: start) }
                #expect(error?.code == .invalidArgument)
            }
            let two = Envelope(mailFrom: "s@example.test", recipients: [.init(address: "a@x.test"), .init(address: "b@x.test")])
            let error = await #expect(throws: QuarantineError.self) {
                try await store.add(
                    id: "TWO.0", envelope: two, queueID: "TWO", owner: "a@x.test", action: .virus, reason: "x",
                    receivedAt: start, message: [])
            }
            #expect(error?.code == .invalidArgument)
            #expect(try await store.list().isEmpty)
        }
    }

    @Test func listFiltersByRecipientOrOwnerAndTimeAndLimits() async throws {
        try await withStoreDirectory { directory in
            let store = try QuarantineStore(directory: directory)
            try await add(store, id: "L.1", recipient: "alice@example.test", at: start)
            try await add(store, id: "L.2", recipient: "bob@example.test", owner: "bob@example.test", at: start.addingTimeInterval(10))
            try await add(store, id: "L.3", recipient: "Alice+news@example.test", at: start.addingTimeInterval(20))
            try await add(store, id: "L.4", recipient: "alice@example.test", at: start.addingTimeInterval(30))

            #expect(try await store.list().map(\.id) == ["L.1", "L.2", "L.3", "L.4"])
            #expect(try await store.list(recipient: "ALICE@example.test").map(\.id) == ["L.1", "L.3", "L.4"])
            #expect(try await store.list(recipient: "alice+news@example.test").map(\.id) == ["L.3"])
            #expect(try await store.list(recipient: "bob@example.test").map(\.id) == ["L.2"])
            #expect(try await store.list(since: start.addingTimeInterval(15)).map(\.id) == ["L.3", "L.4"])
            #expect(
                try await store.list(recipient: "alice@example.test", since: start.addingTimeInterval(20)).map(\.id) == ["L.3", "L.4"])
            #expect(try await store.list(limit: 2).map(\.id) == ["L.1", "L.2"])
            #expect(try await store.list(recipient: "nobody@example.test").isEmpty)
        }
    }

    @Test func listByOwnerNewestFirstInPages() async throws {
        try await withStoreDirectory { directory in
            let store = try QuarantineStore(directory: directory)
            try await add(store, id: "P.1", recipient: "alice@example.test", at: start)
            try await add(store, id: "P.2", recipient: "bob@example.test", owner: "bob@example.test", at: start.addingTimeInterval(10))
            try await add(store, id: "P.3", recipient: "Alice+news@example.test", at: start.addingTimeInterval(20))
            // Delivered to alice's address, but an alias made bob its owner: not alice's to see.
            try await add(store, id: "P.4", recipient: "alice@example.test", owner: "bob@example.test", at: start.addingTimeInterval(30))
            try await add(store, id: "P.5", recipient: "alice@example.test", at: start.addingTimeInterval(40))

            #expect(try await store.list(owner: "ALICE@example.test").map(\.id) == ["P.1", "P.3", "P.5"])
            #expect(try await store.list(newestFirst: true).map(\.id) == ["P.5", "P.4", "P.3", "P.2", "P.1"])
            #expect(try await store.list(owner: "alice@example.test", newestFirst: true, limit: 2).map(\.id) == ["P.5", "P.3"])
            #expect(try await store.list(owner: "alice@example.test", newestFirst: true, offset: 2, limit: 2).map(\.id) == ["P.1"])
            #expect(try await store.list(offset: 3).map(\.id) == ["P.4", "P.5"])
        }
    }

    @Test func deleteRemovesTheRowAndTheFile() async throws {
        try await withStoreDirectory { directory in
            let store = try QuarantineStore(directory: directory)
            try await add(store, id: "DEL.0", at: start)
            #expect(try await store.delete("DEL.0"))
            #expect(try await store.entry("DEL.0") == nil)
            #expect(!FileManager.default.fileExists(atPath: directory + "/messages/DEL.0"))
            #expect(try await !store.delete("DEL.0"))
            let error = await #expect(throws: QuarantineError.self) { try await store.message("DEL.0") }
            #expect(error?.code == .notFound)
        }
    }

    @Test func expireRemovesDueRowsAndFilesOnly() async throws {
        try await withStoreDirectory { directory in
            let store = try QuarantineStore(directory: directory, retention: .seconds(100))
            try await add(store, id: "OLD.0", at: start)
            try await add(store, id: "NEW.0", at: start.addingTimeInterval(50))
            #expect(try await store.expire(now: start.addingTimeInterval(99)) == 0)
            #expect(try await store.expire(now: start.addingTimeInterval(100)) == 1)
            #expect(try await store.list().map(\.id) == ["NEW.0"])
            #expect(!FileManager.default.fileExists(atPath: directory + "/messages/OLD.0"))
            #expect(FileManager.default.fileExists(atPath: directory + "/messages/NEW.0"))
            #expect(try await store.expire(now: start.addingTimeInterval(1000)) == 1)
            #expect(try await store.list().isEmpty)
            #expect(try FileManager.default.contentsOfDirectory(atPath: directory + "/messages").isEmpty)
        }
    }

    @Test func reopeningKeepsEntriesAndRemovesOrphanFiles() async throws {
        try await withStoreDirectory { directory in
            let entry: QuarantineEntry
            do {
                let store = try QuarantineStore(directory: directory)
                entry = try await add(store, id: "KEEP.0", at: start)
            }
            // What a crash can leave: a half-written file and a message file without its row.
            try Data("partial".utf8).write(to: URL(fileURLWithPath: directory + "/tmp/LOST.0"))
            try Data("orphan".utf8).write(to: URL(fileURLWithPath: directory + "/messages/LOST.1"))

            let reader = try QuarantineStore(directory: directory, readOnly: true)
            #expect(try await reader.entry("KEEP.0") == entry)
            let readOnlyError = await #expect(throws: QuarantineError.self) { try await reader.delete("KEEP.0") }
            #expect(readOnlyError?.code == .readOnly)
            #expect(FileManager.default.fileExists(atPath: directory + "/messages/LOST.1"), "a reader cleans nothing")

            let reopened = try QuarantineStore(directory: directory)
            #expect(try await reopened.list() == [entry])
            #expect(try await reopened.message("KEEP.0") == message(subject: "hello"))
            #expect(!FileManager.default.fileExists(atPath: directory + "/tmp/LOST.0"))
            #expect(!FileManager.default.fileExists(atPath: directory + "/messages/LOST.1"))
        }
    }

    @Test func readOnlyOpenOfAMissingStoreSaysSo() async throws {
        try await withStoreDirectory { directory in
            let error = #expect(throws: QuarantineError.self) { try QuarantineStore(directory: directory, readOnly: true) }
            #expect(error?.code == .notFound)
            #expect(error?.description.contains("quarantine.sqlite") == true)
        }
    }

    @Test func aMessageFileOfTheWrongSizeIsReportedCorrupt() async throws {
        try await withStoreDirectory { directory in
            let store = try QuarantineStore(directory: directory)
            try await add(store, id: "CUT.0", at: start)
            try Data("short".utf8).write(to: URL(fileURLWithPath: directory + "/messages/CUT.0"))
            let error = await #expect(throws: QuarantineError.self) { try await store.message("CUT.0") }
            #expect(error?.code == .corrupt)
        }
    }

    @Test func digestsListOnlyEntriesNewerThanTheLastDigestPerRecipient() async throws {
        try await withStoreDirectory { directory in
            let store = try QuarantineStore(directory: directory)
            try await add(store, id: "D.1", recipient: "alice@example.test", at: start)
            try await add(store, id: "D.2", recipient: "bob@example.test", at: start)
            try await add(store, id: "D.3", recipient: "ALICE@example.test", at: start.addingTimeInterval(1))

            let first = try await store.pendingDigests()
            #expect(first.map(\.recipient) == ["alice@example.test", "bob@example.test"])
            #expect(first.map { $0.entries.map(\.id) } == [["D.1", "D.3"], ["D.2"]])
            #expect(first.allSatisfy { $0.lastDigestAt == nil })
            #expect(try await store.lastDigest(for: "alice@example.test") == nil)

            try await store.recordDigest(first[0], sentAt: start.addingTimeInterval(2))
            #expect(try await store.lastDigest(for: "Alice@example.test") == start.addingTimeInterval(2))
            try await add(store, id: "D.4", recipient: "alice@example.test", at: start.addingTimeInterval(3))
            let second = try await store.pendingDigests()
            #expect(second.map(\.recipient) == ["bob@example.test", "alice@example.test"])
            #expect(second.map { $0.entries.map(\.id) } == [["D.2"], ["D.4"]])
            #expect(second.map(\.lastDigestAt) == [nil, start.addingTimeInterval(2)])

            for batch in second { try await store.recordDigest(batch, sentAt: start.addingTimeInterval(4)) }
            #expect(try await store.pendingDigests().isEmpty)
        }
    }
}
