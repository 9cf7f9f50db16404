import Foundation
import Logging
import NIOCore
import Testing

@testable import FilterCore

@Suite struct SpoolTests {
    @Test func createsLayoutWithPrivateDirectories() throws {
        let temporary = try TemporarySpool()
        defer { temporary.remove() }
        _ = try temporary.open()
        for name in ["tmp", "queue", "corrupt"] {
            let attributes = try FileManager.default.attributesOfItem(atPath: "\(temporary.directory)/\(name)")
            #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o700)
        }
    }

    @Test func writesCommitsAndReadsBack() async throws {
        let temporary = try TemporarySpool()
        defer { temporary.remove() }
        // A tiny threshold makes the writer flush several chunks at increasing offsets.
        let spool = try temporary.open(flushThreshold: 7)
        let parts = ["Received: from x\r\n", "Subject: hi\r\n", "\r\n", "body line\r\n", String(repeating: "z", count: 1000)]
        let writer = spool.beginMessage()
        for part in parts {
            try await writer.write(ByteBuffer(string: part))
        }
        let expected = parts.joined()
        #expect(await writer.bytesWritten == expected.utf8.count)
        let envelope = Envelope(
            mailFrom: "",
            recipients: [EnvelopeRecipient(address: "a@example.com"), EnvelopeRecipient(address: "b@example.com")]
        )
        let receivedAt = Date(timeIntervalSince1970: 1_700_000_000.5)
        let entry = try await writer.commit(envelope: envelope, receivedAt: receivedAt)

        #expect(entry.queueID == writer.queueID)
        #expect(entry.messageSize == expected.utf8.count)
        #expect(entry.recipients.map(\.state) == [.pending, .pending])
        #expect(entry.attempts == 0 && entry.nextAttemptAt == nil)
        let stored = try Data(contentsOf: URL(fileURLWithPath: spool.messagePath(for: entry.queueID)))
        #expect(stored == Data(expected.utf8))
        #expect(try spool.entry(entry.queueID) == entry)
        #expect(try temporary.names(in: "tmp").isEmpty)
        #expect(try temporary.names(in: "queue") == ["\(entry.queueID).env", "\(entry.queueID).msg"])
    }

    @Test func emptyMessageCommits() async throws {
        let temporary = try TemporarySpool()
        defer { temporary.remove() }
        let spool = try temporary.open()
        let writer = spool.beginMessage()
        let entry = try await writer.commit(envelope: Envelope(mailFrom: "a@b"), receivedAt: Date())
        #expect(entry.messageSize == 0)
        #expect(try spool.entry(entry.queueID)?.messageSize == 0)
    }

    @Test func nothingIsQueuedBeforeCommit() async throws {
        let temporary = try TemporarySpool()
        defer { temporary.remove() }
        let spool = try temporary.open(flushThreshold: 4)
        let writer = spool.beginMessage()
        try await writer.write(ByteBuffer(string: "Subject: pending\r\n\r\nbody\r\n"))
        #expect(try temporary.names(in: "queue").isEmpty)
        #expect(try temporary.names(in: "tmp") == ["\(writer.queueID).msg"])
        await writer.abort()
    }

    @Test func abortDeletesTheTemporaryFile() async throws {
        let temporary = try TemporarySpool()
        defer { temporary.remove() }
        let spool = try temporary.open(flushThreshold: 4)
        let writer = spool.beginMessage()
        try await writer.write(ByteBuffer(string: "some bytes"))
        await writer.abort()
        #expect(try temporary.names(in: "tmp").isEmpty)
        #expect(try temporary.names(in: "queue").isEmpty)
        await #expect(throws: SpoolError.self) { try await writer.write(ByteBuffer(string: "more")) }
    }

    @Test func writerIsClosedAfterCommit() async throws {
        let temporary = try TemporarySpool()
        defer { temporary.remove() }
        let spool = try temporary.open()
        let writer = spool.beginMessage()
        _ = try await writer.commit(envelope: Envelope(mailFrom: "a@b"), receivedAt: Date())
        do {
            try await writer.write(ByteBuffer(string: "late"))
            Issue.record("write after commit succeeded")
        } catch {
            #expect(error.code == .invalidState)
        }
        await writer.abort()
        #expect(try temporary.names(in: "queue").count == 2)
    }

    @Test func updatePersistsRecipientState() async throws {
        let temporary = try TemporarySpool()
        defer { temporary.remove() }
        let spool = try temporary.open()
        var entry = try await commitMessage("body", to: ["a@example.com", "b@example.com"], in: spool)
        let now = Date(timeIntervalSince1970: 1_700_000_100)
        entry.recipients[0] = RecipientDelivery(state: .delivered, detail: "250 2.0.0 Ok: queued as 4Xy", updatedAt: now)
        entry.recipients[1] = RecipientDelivery(state: .deferred, detail: "451 4.3.0 try later", updatedAt: now)
        entry.attempts = 1
        entry.nextAttemptAt = now.addingTimeInterval(300)
        try await spool.update(entry)

        #expect(try spool.entry(entry.queueID) == entry)
        #expect(try temporary.names(in: "tmp").isEmpty)
        let reopened = try temporary.open()
        #expect(try reopened.entry(entry.queueID) == entry)
    }

    @Test func commitWritesWhatPrepareAdds() async throws {
        let temporary = try TemporarySpool()
        defer { temporary.remove() }
        let spool = try temporary.open()
        let writer = spool.beginMessage()
        try await writer.write(ByteBuffer(string: "body\r\n"))
        let envelope = Envelope(
            mailFrom: "sender@example.org",
            recipients: [EnvelopeRecipient(address: "a@example.com"), EnvelopeRecipient(address: "b@example.com")])
        let entry = try await writer.commit(envelope: envelope, receivedAt: Date(timeIntervalSince1970: 1_700_000_000.25)) { entry in
            for index in entry.recipients.indices { entry.recipients[index].requestID = "\(entry.queueID).\(index)" }
        }

        #expect(entry.recipients.map(\.requestID) == ["\(entry.queueID).0", "\(entry.queueID).1"])
        #expect(try temporary.open().entry(entry.queueID) == entry)
    }

    @Test func updateOfAnUnknownEntryFails() async throws {
        let temporary = try TemporarySpool()
        defer { temporary.remove() }
        let spool = try temporary.open()
        let entry = SpoolEntry(
            queueID: QueueID.generate(), envelope: Envelope(mailFrom: ""), receivedAt: Date(), messageSize: 0, recipients: []
        )
        do {
            try await spool.update(entry)
            Issue.record("update of a missing entry succeeded")
        } catch {
            #expect(error.code == .notFound)
            #expect(error.description.contains(spool.messagePath(for: entry.queueID)))
        }
        #expect(try temporary.names(in: "queue").isEmpty)
        #expect(try temporary.names(in: "tmp").isEmpty)
    }

    @Test func removeDeletesBothFiles() async throws {
        let temporary = try TemporarySpool()
        defer { temporary.remove() }
        let spool = try temporary.open()
        let kept = try await commitMessage("kept", in: spool)
        let removed = try await commitMessage("removed", in: spool)
        try await spool.remove(removed.queueID)
        #expect(try temporary.names(in: "queue") == ["\(kept.queueID).env", "\(kept.queueID).msg"])
        #expect(try spool.entry(removed.queueID) == nil)
        do {
            try await spool.remove(removed.queueID)
            Issue.record("second remove succeeded")
        } catch {
            #expect(error.code == .notFound)
        }
    }

    @Test func removedFilesHoldLaterMessages() async throws {
        let temporary = try TemporarySpool()
        defer { temporary.remove() }
        let spool = try temporary.open()
        let long = String(repeating: "long message line\r\n", count: 200)
        let first = try await commitMessage(long, in: spool)
        try await spool.remove(first.queueID)
        #expect(try temporary.names(in: "queue").isEmpty)
        #expect(try temporary.names(in: "tmp").count == 2)

        // The new files are the old ones, overwritten and cut to their new size.
        let second = try await commitMessage("short", to: ["x@example.com", "y@example.com"], in: spool)
        #expect(try temporary.names(in: "tmp").isEmpty)
        #expect(try temporary.names(in: "queue") == ["\(second.queueID).env", "\(second.queueID).msg"])
        let stored = try Data(contentsOf: URL(fileURLWithPath: spool.messagePath(for: second.queueID)))
        #expect(stored == Data("short".utf8))
        #expect(try spool.entry(second.queueID) == second)
        #expect(try await temporary.open().recover(logger: Logger(label: "test")) == [second])
    }

    @Test func recyclingKeepsOnlySmallFilesAndCanBeTurnedOff() async throws {
        let temporary = try TemporarySpool()
        defer { temporary.remove() }
        let large = try temporary.open(flushThreshold: 64)
        let entry = try await commitMessage(String(repeating: "z", count: 100), in: large)
        try await large.remove(entry.queueID)
        #expect(try temporary.names(in: "tmp").isEmpty)

        let off = try temporary.open(recycledFiles: 0)
        let small = try await commitMessage("tiny", in: off)
        try await off.remove(small.queueID)
        #expect(try temporary.names(in: "tmp").isEmpty)
        #expect(try temporary.names(in: "queue").isEmpty)
    }

    @Test func entriesAreSortedByQueueID() async throws {
        let temporary = try TemporarySpool()
        defer { temporary.remove() }
        let spool = try temporary.open()
        var committed: [SpoolEntry] = []
        for index in 0..<5 {
            committed.append(try await commitMessage("message \(index)", in: spool))
        }
        #expect(try spool.entries() == committed.sorted { $0.queueID < $1.queueID })
    }

    @Test func concurrentCommitsShareSyncBatches() async throws {
        let temporary = try TemporarySpool()
        defer { temporary.remove() }
        let spool = try temporary.open()
        let ids = try await withThrowingTaskGroup(of: QueueID.self) { group in
            for index in 0..<200 {
                group.addTask { try await commitMessage("message \(index)\r\n", in: spool).queueID }
            }
            return try await group.reduce(into: [QueueID]()) { $0.append($1) }
        }
        #expect(Set(ids).count == 200)
        #expect(try spool.entries().map(\.queueID) == ids.sorted())
        #expect(try temporary.names(in: "queue").count == 400)
        let statistics = await spool.statistics()
        #expect(statistics.commits == 200)
        #expect(statistics.syncBatches < 200)
    }

    @Test func groupCommitCanBeTurnedOff() async throws {
        let temporary = try TemporarySpool()
        defer { temporary.remove() }
        let spool = try temporary.open(maximumBatchSize: 1)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<10 {
                group.addTask { _ = try await commitMessage("message \(index)", in: spool) }
            }
            try await group.waitForAll()
        }
        #expect(await spool.statistics() == SpoolStatistics(commits: 10, syncBatches: 10))
    }

    @Test func errorDescriptionNamesPathAndReason() {
        let error = SpoolError(code: .ioFailure, message: "fsync failed", path: "/spool/tmp/X.msg", errorNumber: ENOSPC)
        #expect(error.description == "spool ioFailure: fsync failed: /spool/tmp/X.msg: No space left on device (errno 28)")
    }
}

/// A spool in a fresh temporary directory, deleted when the test ends.
struct TemporarySpool {
    let directory: String

    init() throws {
        directory = FileManager.default.temporaryDirectory.path + "/spool-test-" + UUID().uuidString
    }

    func open(
        flushThreshold: Int = 256 * 1024,
        maximumBatchSize: Int = 256,
        syncMethod: SpoolConfiguration.SyncMethod = .fsyncEachFile,
        recycledFiles: Int = 256
    ) throws -> Spool {
        try Spool(
            configuration: SpoolConfiguration(
                directory: directory,
                flushThreshold: flushThreshold,
                maximumBatchSize: maximumBatchSize,
                syncMethod: syncMethod,
                recycledFiles: recycledFiles
            )
        )
    }

    func names(in subdirectory: String) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: "\(directory)/\(subdirectory)").sorted()
    }

    func path(_ subdirectory: String, _ name: String) -> String {
        "\(directory)/\(subdirectory)/\(name)"
    }

    func write(_ text: String, to subdirectory: String, _ name: String) throws {
        try Data(text.utf8).write(to: URL(fileURLWithPath: path(subdirectory, name)))
    }

    func remove() {
        try? FileManager.default.removeItem(atPath: directory)
    }
}

/// Commits a message with the given body and recipients.
func commitMessage(
    _ body: String,
    to recipients: [String] = ["alice@example.com"],
    in spool: Spool,
    receivedAt: Date = Date(timeIntervalSince1970: 1_700_000_000.25)
) async throws -> SpoolEntry {
    let writer = spool.beginMessage()
    try await writer.write(ByteBuffer(string: body))
    let envelope = Envelope(
        mailFrom: "sender@example.org",
        recipients: recipients.map { EnvelopeRecipient(address: $0) }
    )
    return try await writer.commit(envelope: envelope, receivedAt: receivedAt)
}

/// Keeps every log record, so tests can check what was reported.
struct RecordingLogHandler: LogHandler {
    final class Store: @unchecked Sendable {
        private let lock = NSLock()
        private var storage: [(level: Logger.Level, message: String, metadata: Logger.Metadata)] = []

        func append(_ record: (level: Logger.Level, message: String, metadata: Logger.Metadata)) {
            lock.withLock { storage.append(record) }
        }

        var records: [(level: Logger.Level, message: String, metadata: Logger.Metadata)] {
            lock.withLock { storage }
        }
    }

    let store: Store
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        store.append((event.level, "\(event.message)", metadata.merging(event.metadata ?? [:]) { $1 }))
    }

    static func logger() -> (Logger, Store) {
        let store = Store()
        return (Logger(label: "spool-test") { _ in RecordingLogHandler(store: store) }, store)
    }
}
