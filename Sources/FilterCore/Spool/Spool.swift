import Foundation
import Logging
import NIOCore
import NIOPosix

/// Settings of the durable spool.
public struct SpoolConfiguration: Sendable {
    /// How the data of a commit batch is made durable before its files are renamed.
    public struct SyncMethod: Hashable, Sendable, CustomStringConvertible {
        /// The method's name, as in configuration files.
        public let rawValue: String

        /// Sync every file of the batch on its own (`fdatasync(2)`: data and size, not
        /// timestamps), several side by side. Touches only the spool's own files, whatever
        /// else shares the file system.
        public static let fsyncEachFile = SyncMethod(rawValue: "fsyncEachFile")
        /// One `syncfs(2)` of the spool's file system per batch (Linux). Cheaper for large
        /// batches on a file system dedicated to the spool; it also flushes everybody else's
        /// dirty data. Falls back to `fsyncEachFile` where `syncfs` does not exist.
        public static let syncFileSystem = SyncMethod(rawValue: "syncFileSystem")

        /// The method's name.
        public var description: String { rawValue }
    }

    /// The spool directory; `tmp/`, `queue/` and `corrupt/` are created inside it.
    public var directory: String
    /// How many bytes of a message a writer keeps in memory before writing them to its file,
    /// in octets. Default 262 144 (256 KiB).
    public var flushThreshold: Int
    /// The most commits made durable by one sync batch. Default 256; 1 turns group commit off
    /// (one sync round per message).
    public var maximumBatchSize: Int
    /// How a batch's data is made durable. Default `fsyncEachFile`.
    public var syncMethod: SyncMethod
    /// How many files of removed entries are kept in `tmp/` to hold new messages, instead of
    /// deleting them and creating new ones (files); only files of at most `flushThreshold`
    /// octets are kept. Default 256; 0 turns recycling off.
    public var recycledFiles: Int

    /// Creates a configuration with the documented defaults.
    public init(
        directory: String,
        flushThreshold: Int = 256 * 1024,
        maximumBatchSize: Int = 256,
        syncMethod: SyncMethod = .fsyncEachFile,
        recycledFiles: Int = 256
    ) {
        self.directory = directory
        self.flushThreshold = flushThreshold
        self.maximumBatchSize = maximumBatchSize
        self.syncMethod = syncMethod
        self.recycledFiles = recycledFiles
    }
}

/// Counters of the spool's group commit, for metrics and tests.
public struct SpoolStatistics: Sendable, Hashable {
    /// Commits (new messages and envelope updates) made durable.
    public var commits = 0
    /// Sync batches run; `commits / syncBatches` is the average batch size.
    public var syncBatches = 0
}

/// The durable spool: every accepted message is a raw `ID.msg` plus an `ID.env` holding its
/// envelope and per-recipient delivery state, committed with group commit so that the SMTP
/// server can answer 250 only once both are on stable storage.
///
/// All blocking file I/O runs on a `NIOThreadPool`, never on the caller's thread. The layout,
/// the commit protocol and the recovery rules are described in `docs/spool.md`.
public final class Spool: Sendable {
    /// The configuration the spool was opened with.
    public let configuration: SpoolConfiguration
    let temporaryDirectory: String
    let queueDirectory: String
    let corruptDirectory: String
    let threadPool: NIOThreadPool
    let committer: GroupCommitter

    /// Opens the spool in `configuration.directory`, creating it and its subdirectories
    /// (mode 0700) when missing. Blocks briefly: call it at start-up.
    ///
    /// - Parameters:
    ///   - configuration: The spool settings.
    ///   - threadPool: Where blocking file I/O runs; the NIO singleton pool by default.
    /// - Throws: `SpoolError` with code `.ioFailure` if a directory cannot be created.
    public init(configuration: SpoolConfiguration, threadPool: NIOThreadPool = .singleton) throws(SpoolError) {
        self.configuration = configuration
        self.temporaryDirectory = configuration.directory + "/tmp"
        self.queueDirectory = configuration.directory + "/queue"
        self.corruptDirectory = configuration.directory + "/corrupt"
        self.threadPool = threadPool
        self.committer = GroupCommitter(
            syncMethod: configuration.syncMethod,
            maximumBatchSize: configuration.maximumBatchSize,
            queueDirectory: queueDirectory,
            threadPool: threadPool,
            recycledFiles: RecycledFiles(
                temporaryDirectory: temporaryDirectory,
                capacity: configuration.recycledFiles,
                maximumFileSize: configuration.flushThreshold
            )
        )
        try SpoolFiles.makeDirectory(configuration.directory)
        for directory in [temporaryDirectory, queueDirectory, corruptDirectory] {
            try SpoolFiles.makeDirectory(directory)
        }
        try SpoolFiles.syncDirectory(configuration.directory)
    }

    /// Starts receiving a new message: allocates its queue id. Its file in `tmp/` is created
    /// only when more than `flushThreshold` bytes arrive, or else by the commit batch itself,
    /// so a small message costs no file operation before its commit.
    ///
    /// - Returns: The writer to stream the message into, then `commit` or `abort`.
    public func beginMessage() -> SpoolWriter {
        let queueID = QueueID.generate()
        return SpoolWriter(queueID: queueID, temporaryPath: temporaryPath(queueID, suffix: "msg"), spool: self)
    }

    /// Atomically replaces the stored state of an entry (write to `tmp/`, sync, rename over
    /// `queue/ID.env`, sync the directory), sharing sync batches with concurrent commits.
    ///
    /// - Parameter entry: The entry with its new recipient states.
    /// - Throws: `SpoolError` `.notFound` if the message is not in the spool, `.ioFailure` if
    ///   the new state could not be made durable (the previous state then remains).
    public func update(_ entry: SpoolEntry) async throws(SpoolError) {
        let queueID = entry.queueID
        let staged = CommitRequest.StagedFile(
            content: .bytes(ByteBuffer(bytes: try Self.encode(entry))),
            temporaryPath: temporaryPath(queueID, suffix: String(UInt64.random(in: 0...UInt64.max), radix: 36) + ".env"),
            finalPath: envelopePath(for: queueID)
        )
        try await committer.run(.commit(CommitRequest(message: nil, envelope: staged, requiredMessagePath: messagePath(for: queueID))))
    }

    /// Removes a message whose recipients are all final: `ID.env` first, then `ID.msg`, so an
    /// interruption leaves at worst an orphan body, never an envelope without its message.
    /// Concurrent removals and commits share one thread-pool job.
    ///
    /// - Parameter queueID: The message to remove.
    /// - Throws: `SpoolError` `.notFound` if neither file exists, `.ioFailure` if one cannot
    ///   be removed.
    public func remove(_ queueID: QueueID) async throws(SpoolError) {
        try await committer.run(.removal(RemovalRequest(envelopePath: envelopePath(for: queueID), messagePath: messagePath(for: queueID))))
    }

    /// Reads a committed message's raw bytes in one thread-pool job, for delivering or quoting
    /// a message small enough to hold in memory.
    ///
    /// - Parameters:
    ///   - queueID: The message.
    ///   - maximumBytes: Read no more than this many octets from the start of the file.
    /// - Returns: The first `maximumBytes` octets of `ID.msg` (all of it if smaller).
    /// - Throws: `SpoolError` `.notFound` if the file does not exist, `.ioFailure` if it
    ///   cannot be read.
    public func readMessage(_ queueID: QueueID, maximumBytes: Int = .max) async throws(SpoolError) -> ByteBuffer {
        let path = messagePath(for: queueID)
        return try await runBlocking { () throws(SpoolError) in
            guard let bytes = try SpoolFiles.readFile(path, maximumBytes: maximumBytes) else {
                throw SpoolError(code: .notFound, message: "no such message in the spool", path: path)
            }
            return bytes
        }
    }

    /// The path of a committed message's raw bytes, `DIR/queue/ID.msg`.
    public func messagePath(for queueID: QueueID) -> String {
        "\(queueDirectory)/\(queueID.rawValue).msg"
    }

    /// Reads one entry. Blocking; meant for `filterctl` and tests.
    ///
    /// - Returns: The entry, or `nil` if `ID.env` does not exist.
    /// - Throws: `SpoolError` `.corrupt` if the file cannot be parsed, `.ioFailure` if it
    ///   cannot be read.
    public func entry(_ queueID: QueueID) throws(SpoolError) -> SpoolEntry? {
        let path = envelopePath(for: queueID)
        guard let bytes = try SpoolFiles.readFile(path) else { return nil }
        return try Self.decode(Array(buffer: bytes), path: path)
    }

    /// Reads every committed entry that can be parsed, sorted by queue id. Blocking; meant for
    /// `filterctl spool list`. Unparsable files are skipped here; `recover` moves them aside.
    ///
    /// - Throws: `SpoolError` `.ioFailure` if `queue/` or a file in it cannot be read.
    public func entries() throws(SpoolError) -> [SpoolEntry] {
        var result: [SpoolEntry] = []
        for name in try SpoolFiles.list(queueDirectory) {
            guard let queueID = Self.queueID(fromFileName: name, suffix: ".env") else { continue }
            do {
                if let entry = try entry(queueID) { result.append(entry) }
            } catch where error.code == .corrupt {
                continue
            }
        }
        return result.sorted { $0.queueID < $1.queueID }
    }

    /// The group-commit counters so far.
    public func statistics() async -> SpoolStatistics {
        await committer.currentStatistics
    }

    // MARK: - Internals shared by the writer and recovery

    func envelopePath(for queueID: QueueID) -> String {
        "\(queueDirectory)/\(queueID.rawValue).env"
    }

    func temporaryPath(_ queueID: QueueID, suffix: String) -> String {
        "\(temporaryDirectory)/\(queueID.rawValue).\(suffix)"
    }

    /// Runs blocking file I/O on the spool's thread pool.
    func runBlocking<Value: Sendable>(
        _ body: @escaping @Sendable () throws(SpoolError) -> Value
    ) async throws(SpoolError) -> Value {
        do {
            return try await threadPool.runIfActive { try body() }
        } catch let error as SpoolError {
            throw error
        } catch {
            throw SpoolError(code: .ioFailure, message: "spool I/O did not run: \(error)")
        }
    }

    /// Runs cleanup work on the thread pool whether or not the calling task is cancelled; if
    /// the pool is already shut down, runs it inline (it must be short).
    func runToCompletion(_ body: @escaping @Sendable () -> Void) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            threadPool.submit { _ in
                body()
                continuation.resume()
            }
        }
    }

    static func queueID(fromFileName name: String, suffix: String) -> QueueID? {
        guard name.hasSuffix(suffix) else { return nil }
        return QueueID(rawValue: String(name.dropLast(suffix.count)))
    }

    /// The on-disk form of `ID.env`: the entry with a format version, so that a later
    /// version of the filter can read older spools.
    struct Record: Codable {
        var version: Int
        var entry: SpoolEntry
    }

    private static let formatVersion = 1

    /// Writes `{"entry":…,"version":1}`, keys sorted as `JSONEncoder` sorts them, so it reads
    /// back through ``Record``.
    static func encode(_ entry: SpoolEntry) throws(SpoolError) -> [UInt8] {
        var writer = CompactJSONWriter()
        do {
            try writer.object { (writer: inout CompactJSONWriter) throws(WireProtocolError) in
                writer.key("entry")
                try entry.writeJSON(to: &writer)
                writer.field("version", formatVersion)
            }
        } catch {
            throw SpoolError(code: .corrupt, message: "cannot encode entry \(entry.queueID): \(error)")
        }
        return writer.bytes
    }

    static func decode(_ bytes: [UInt8], path: String) throws(SpoolError) -> SpoolEntry {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .custom { decoder in
            let container = try decoder.singleValueContainer()
            return try Date.ISO8601FormatStyle(includingFractionalSeconds: true).parse(try container.decode(String.self))
        }
        let record: Record
        do {
            record = try decoder.decode(Record.self, from: Data(bytes))
        } catch {
            throw SpoolError(code: .corrupt, message: "unparsable envelope file (\(error))", path: path)
        }
        guard record.version == formatVersion else {
            throw SpoolError(code: .corrupt, message: "unknown envelope file version \(record.version)", path: path)
        }
        guard record.entry.recipients.count == record.entry.envelope.recipients.count else {
            throw SpoolError(code: .corrupt, message: "recipient states do not match the envelope", path: path)
        }
        return record.entry
    }
}
