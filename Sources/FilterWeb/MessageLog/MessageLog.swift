import FilterCore
import FilterEngine
import Foundation
import GRDB
import Logging
import NIOCore
import ServiceLifecycle
import Synchronization

/// The server's message log: one row per final recipient outcome, kept for
/// ``MessageLogConfiguration/retention`` in SQLite (WAL mode, through GRDB), searchable for the
/// console and streamed live to its pages.
///
/// As an ``OutcomeObserver`` it is called by delivery before the spool entry is removed, so it
/// reads the message's `Subject` from the spool file then (at most
/// ``MessageLogConfiguration/maximumHeaderBytes``, on the spool's thread pool) and queues the
/// row. Queued rows are written behind delivery, in one transaction per batch, by a task that
/// runs while rows wait: delivery never waits for SQLite, and a busy server writes many rows
/// per transaction. A failure is logged and costs rows, never mail; so does a full queue
/// (``MessageLogConfiguration/maximumPendingRows``). An outcome repeated after a crash (same
/// request id) is recorded once. As a `Service` it deletes expired rows every
/// ``MessageLogConfiguration/pruneInterval`` and writes what is queued before it stops.
public final class MessageLog: OutcomeObserver, Service, Sendable {
    /// The settings.
    public let configuration: MessageLogConfiguration
    private let filtering: FilteringConfiguration
    private let spool: Spool
    private let database: DatabasePool
    private let logger: Logger
    private let subscribers = Mutex<[UInt64: AsyncStream<MessageLogRow>.Continuation]>([:])
    private let nextSubscriber = Atomic<UInt64>(0)
    /// The subject of the message whose recipients are being recorded, so a message with many
    /// recipients is read once.
    private let lastSubject = Mutex<(queueID: QueueID, subject: String?)?>(nil)
    /// Rows waiting to be written, and the task writing them while there are any.
    private let pending = Mutex<(rows: [MessageLogRow], writer: Task<Void, Never>?, dropped: Int)>(([], nil, 0))

    /// Opens (creating if needed) the log of a server.
    /// - Parameters:
    ///   - configuration: Where and for how long.
    ///   - server: The server's configuration: its spool (for subjects) and its owners.
    ///   - logger: Where failures are logged.
    /// - Throws: ``MessageLogError`` when the database cannot be opened.
    public init(configuration: MessageLogConfiguration, server: FilterServerConfiguration, logger: Logger) throws {
        self.configuration = configuration
        self.filtering = server.filtering
        self.logger = logger
        self.spool = try Spool(configuration: SpoolConfiguration(directory: server.spoolDirectory))
        var options = Configuration()
        options.busyMode = .timeout(10)
        // The log is a record of what happened to mail, not the mail: WAL with NORMAL syncs
        // only at checkpoints, so recording an outcome costs no fsync on the delivery path. A
        // power failure may lose the last rows, never the database's consistency.
        options.prepareDatabase { db in try db.execute(sql: "PRAGMA synchronous = NORMAL") }
        do {
            database = try DatabasePool(path: configuration.path, configuration: options)
            try Self.migrator.migrate(database)
        } catch {
            throw MessageLogError(code: .database, message: "cannot open the database", path: configuration.path, reason: "\(error)")
        }
    }

    // MARK: - Recording

    /// Records the final outcome of the recipient at `index` of `entry`.
    public func recipientFinished(_ entry: SpoolEntry, at index: Int) async {
        let event = OutcomeEvent(of: entry, at: index, filtering: filtering)
        let reply = entry.recipients[index].decision?.reply
        let row = MessageLogRow(
            eventID: event.id, queueID: event.queueID, receivedAt: entry.receivedAt, finishedAt: event.at,
            sender: event.sender, recipient: event.recipient, owner: event.owner, subject: await subject(of: entry),
            action: event.action, source: event.source.rawValue, state: event.state, reason: event.reason,
            detail: event.detail, score: reply?.score, tags: reply?.tags ?? [], processors: reply?.processors ?? [])
        enqueue(row)
    }

    /// Queues `row` for the writer, starting it when none runs; drops the row (logging every
    /// thousandth drop) when ``MessageLogConfiguration/maximumPendingRows`` are waiting.
    private func enqueue(_ row: MessageLogRow) {
        let dropped: Int? = pending.withLock { pending in
            guard pending.rows.count < configuration.maximumPendingRows else {
                pending.dropped += 1
                return pending.dropped
            }
            pending.rows.append(row)
            if pending.writer == nil { pending.writer = Task { await self.writePending() } }
            return nil
        }
        if let dropped, dropped % 1000 == 1 {
            logger.warning(
                "Message log queue full; outcomes not recorded",
                metadata: ["mail.queue.id": "\(row.queueID)", "messagelog.dropped": "\(dropped)"])
        }
    }

    /// Writes queued rows, a batch per transaction, until none wait; each batch gathers for
    /// ``MessageLogConfiguration/batchDelay`` first, so a busy server writes many rows at once.
    private func writePending() async {
        while true {
            try? await Task.sleep(for: configuration.batchDelay)
            let batch: [MessageLogRow] = pending.withLock { pending in
                let rows = pending.rows
                pending.rows = []
                if rows.isEmpty { pending.writer = nil }
                return rows
            }
            guard !batch.isEmpty else { return }
            do {
                try await insert(batch)
            } catch {
                logger.warning(
                    "Outcomes not recorded in the message log",
                    metadata: ["mail.queue.id": "\(batch[0].queueID)", "messagelog.rows": "\(batch.count)", "error": "\(error)"])
            }
        }
    }

    /// Waits until every row queued so far is written (or failed to be).
    public func flush() async {
        while let writer = pending.withLock({ $0.writer }) {
            await writer.value
        }
    }

    /// Inserts `row` at once and hands it to the live streams; returns it with its sequence
    /// number, or `nil` when its event id is already recorded.
    @discardableResult
    func insert(_ row: MessageLogRow) async throws -> MessageLogRow? {
        try await insert([row]).first
    }

    /// Inserts `rows` in one transaction and hands the new ones to the live streams; returns
    /// them with their sequence numbers (rows whose event id is already recorded are left out).
    @discardableResult
    private func insert(_ rows: [MessageLogRow]) async throws -> [MessageLogRow] {
        let encoded = try rows.map { row in (row, try Self.json(row.tags), try Self.json(row.processors)) }
        let inserted = try await access("cannot record an outcome") {
            try await database.write { db -> [MessageLogRow] in
                var inserted: [MessageLogRow] = []
                for (row, tags, processors) in encoded {
                    try db.execute(
                        sql: """
                            INSERT INTO message (eventID, queueID, receivedAt, finishedAt, sender, recipient, owner, subject,
                                action, source, state, reason, detail, score, tags, processors)
                            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                            ON CONFLICT(eventID) DO NOTHING
                            """,
                        arguments: [
                            row.eventID, row.queueID, row.receivedAt.timeIntervalSince1970, row.finishedAt.timeIntervalSince1970,
                            row.sender, row.recipient, row.owner, row.subject, row.action.rawValue, row.source, row.state,
                            row.reason, row.detail, row.score, tags, processors,
                        ])
                    guard db.changesCount > 0 else { continue }
                    var recorded = row
                    recorded.sequence = db.lastInsertedRowID
                    inserted.append(recorded)
                }
                return inserted
            }
        }
        inserted.forEach(publish)
        return inserted
    }

    /// The longest subject recorded, in characters: a folded subject of tens of kilobytes must
    /// not make each queued row (and the database) that large.
    static let maximumSubjectCharacters = 998

    /// The decoded `Subject` of `message` (its start), cut at ``maximumSubjectCharacters``.
    static func subject(in message: [UInt8]) -> String? {
        MIMEMessage(bytes: message).subject.map { String($0.prefix(maximumSubjectCharacters)) }
    }

    /// The decoded `Subject` of the entry's message, read from its spool file, cut at
    /// ``maximumSubjectCharacters``.
    private func subject(of entry: SpoolEntry) async -> String? {
        if let cached = lastSubject.withLock({ $0 }), cached.queueID == entry.queueID { return cached.subject }
        let subject: String?
        do {
            let bytes = try await spool.readMessage(entry.queueID, maximumBytes: configuration.maximumHeaderBytes)
            subject = Self.subject(in: Array(bytes.readableBytesView))
        } catch {
            logger.debug("Subject not read for the message log", metadata: ["mail.queue.id": "\(entry.queueID)", "error": "\(error)"])
            subject = nil
        }
        lastSubject.withLock { $0 = (entry.queueID, subject) }
        return subject
    }

    // MARK: - Live rows

    /// New rows as they are recorded, until the stream's consumer stops iterating. A consumer
    /// that falls more than ``MessageLogConfiguration/liveBuffer`` rows behind loses the oldest.
    public func liveRows() -> AsyncStream<MessageLogRow> {
        let (stream, continuation) = AsyncStream.makeStream(
            of: MessageLogRow.self, bufferingPolicy: .bufferingNewest(max(1, configuration.liveBuffer)))
        let key = nextSubscriber.add(1, ordering: .relaxed).newValue
        subscribers.withLock { $0[key] = continuation }
        continuation.onTermination = { [weak self] _ in
            _ = self?.subscribers.withLock { $0.removeValue(forKey: key) }
        }
        return stream
    }

    /// How many live streams are open.
    var liveSubscriberCount: Int { subscribers.withLock { $0.count } }

    private func publish(_ row: MessageLogRow) {
        for continuation in subscribers.withLock({ Array($0.values) }) {
            continuation.yield(row)
        }
    }

    // MARK: - Reading

    /// Rows matching `query`, newest first.
    /// - Throws: ``MessageLogError``.
    public func search(_ query: MessageLogQuery) async throws -> MessageLogPage {
        var conditions: [String] = []
        var arguments: StatementArguments = []
        if let text = query.text?.trimmingCharacters(in: .whitespaces), !text.isEmpty {
            let pattern = "%" + Self.escapedForLike(text) + "%"
            conditions.append("(queueID LIKE ? ESCAPE '\\' OR sender LIKE ? ESCAPE '\\' OR recipient LIKE ? ESCAPE '\\')")
            arguments += [pattern, pattern, pattern]
        }
        if let action = query.action {
            conditions.append("action = ?")
            arguments += [action.rawValue]
        }
        if let owner = query.owner {
            conditions.append("owner = ?")
            arguments += [owner]
        }
        let page = max(1, query.page)
        let size = max(1, query.pageSize)
        let (offset, overflow) = (page - 1).multipliedReportingOverflow(by: size)
        guard !overflow else { return MessageLogPage(rows: [], page: page, hasMore: false) }
        let filter = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
        arguments += [size + 1, offset]
        let sql = "SELECT * FROM message \(filter) ORDER BY finishedAt DESC, sequence DESC LIMIT ? OFFSET ?"
        let rows = try await access("cannot search") {
            try await database.read { [sql, arguments] db in try Row.fetchAll(db, sql: sql, arguments: arguments).map(Self.row(from:)) }
        }
        return MessageLogPage(rows: Array(rows.prefix(size)), page: page, hasMore: rows.count > size)
    }

    /// The rows of one message, in recipient order; only those of `owner` when given.
    /// - Throws: ``MessageLogError``.
    public func rows(queueID: String, owner: String? = nil) async throws -> [MessageLogRow] {
        var sql = "SELECT * FROM message WHERE queueID = ?"
        var arguments: StatementArguments = [queueID]
        if let owner {
            sql += " AND owner = ?"
            arguments += [owner]
        }
        sql += " ORDER BY sequence"
        return try await access("cannot read \(queueID)") {
            try await database.read { [sql, arguments] db in try Row.fetchAll(db, sql: sql, arguments: arguments).map(Self.row(from:)) }
        }
    }

    /// How many outcomes each action had since `date`; only `owner`'s when given.
    /// - Throws: ``MessageLogError``.
    public func countsByAction(since date: Date, owner: String? = nil) async throws -> [FilterAction: Int] {
        var sql = "SELECT action, COUNT(*) FROM message WHERE finishedAt >= ?"
        var arguments: StatementArguments = [date.timeIntervalSince1970]
        if let owner {
            sql += " AND owner = ?"
            arguments += [owner]
        }
        sql += " GROUP BY action"
        return try await access("cannot count outcomes") {
            try await database.read { [sql, arguments] db in
                var counts: [FilterAction: Int] = [:]
                for row in try Row.fetchAll(db, sql: sql, arguments: arguments) {
                    counts[FilterAction(rawValue: row[0])] = row[1]
                }
                return counts
            }
        }
    }

    /// Every owner with a row in the log, by owner.
    /// - Throws: ``MessageLogError``.
    public func owners() async throws -> [MessageLogOwner] {
        try await access("cannot list owners") {
            try await database.read { db in
                try Row.fetchAll(db, sql: "SELECT owner, MAX(finishedAt), COUNT(*) FROM message GROUP BY owner ORDER BY owner").map {
                    MessageLogOwner(owner: $0[0], lastActivity: Date(timeIntervalSince1970: $0[1]), outcomes: $0[2])
                }
            }
        }
    }

    // MARK: - Retention

    /// Deletes rows whose outcome is older than the retention at `now`.
    /// - Returns: How many were deleted.
    /// - Throws: ``MessageLogError``.
    @discardableResult
    public func prune(now: Date) async throws -> Int {
        let cutoff = now.addingTimeInterval(-configuration.retention.timeInterval).timeIntervalSince1970
        return try await access("cannot delete expired rows") {
            try await database.write { db in
                try db.execute(sql: "DELETE FROM message WHERE finishedAt < ?", arguments: [cutoff])
                return db.changesCount
            }
        }
    }

    /// Prunes at once and then every ``MessageLogConfiguration/pruneInterval`` until graceful
    /// shutdown or cancellation; failures are logged and tried again at the next interval.
    public func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do {
                    let deleted = try await self.prune(now: Date())
                    if deleted > 0 { self.logger.info("Expired message log rows deleted", metadata: ["messagelog.deleted": "\(deleted)"]) }
                } catch {
                    self.logger.error("Cannot prune the message log", metadata: ["error": "\(error)"])
                }
                try? await Task.sleep(for: self.configuration.pruneInterval)
            }
        }
        await flush()
        // Finished outside the lock: finishing runs each stream's termination handler, which
        // takes the lock to unregister the stream.
        let open = subscribers.withLock { subscribers in
            defer { subscribers.removeAll() }
            return Array(subscribers.values)
        }
        open.forEach { $0.finish() }
    }

    // MARK: - Internals

    private static let migrator: DatabaseMigrator = {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.execute(
                sql: """
                    CREATE TABLE message (
                        sequence INTEGER PRIMARY KEY AUTOINCREMENT,
                        eventID TEXT NOT NULL UNIQUE,
                        queueID TEXT NOT NULL,
                        receivedAt REAL NOT NULL,
                        finishedAt REAL NOT NULL,
                        sender TEXT NOT NULL,
                        recipient TEXT NOT NULL,
                        owner TEXT NOT NULL COLLATE NOCASE,
                        subject TEXT,
                        action TEXT NOT NULL,
                        source TEXT NOT NULL,
                        state TEXT NOT NULL,
                        reason TEXT,
                        detail TEXT,
                        score REAL,
                        tags TEXT NOT NULL,
                        processors TEXT NOT NULL
                    );
                    CREATE INDEX message_finishedAt ON message (finishedAt);
                    CREATE INDEX message_queueID ON message (queueID);
                    CREATE INDEX message_owner ON message (owner, finishedAt);
                    CREATE INDEX message_action ON message (action, finishedAt);
                    """)
        }
        return migrator
    }()

    /// `text` with `\`, `%` and `_` escaped for `LIKE ... ESCAPE '\'`.
    static func escapedForLike(_ text: String) -> String {
        var escaped = ""
        for character in text {
            if character == "\\" || character == "%" || character == "_" { escaped.append("\\") }
            escaped.append(character)
        }
        return escaped
    }

    private static func json(_ value: some Encodable) throws(MessageLogError) -> String {
        do {
            return String(decoding: try JSONEncoder().encode(value), as: UTF8.self)
        } catch {
            throw MessageLogError(code: .corrupt, message: "cannot encode \(type(of: value))", path: "-", reason: "\(error)")
        }
    }

    private static func row(from row: Row) -> MessageLogRow {
        // Lists written by a later version that cannot be read are shown empty, not fatal.
        let tags = (try? JSONDecoder().decode([String].self, from: Data((row["tags"] as String).utf8))) ?? []
        let processors =
            (try? JSONDecoder().decode([FilterReply.ProcessorTrace].self, from: Data((row["processors"] as String).utf8))) ?? []
        return MessageLogRow(
            sequence: row["sequence"], eventID: row["eventID"], queueID: row["queueID"],
            receivedAt: Date(timeIntervalSince1970: row["receivedAt"]), finishedAt: Date(timeIntervalSince1970: row["finishedAt"]),
            sender: row["sender"], recipient: row["recipient"], owner: row["owner"], subject: row["subject"],
            action: FilterAction(rawValue: row["action"]), source: row["source"], state: row["state"], reason: row["reason"],
            detail: row["detail"], score: row["score"], tags: tags, processors: processors)
    }

    /// Runs a database access, turning its errors into ``MessageLogError``s.
    private func access<Value>(_ what: String, _ body: () async throws -> Value) async throws(MessageLogError) -> Value {
        do {
            return try await body()
        } catch let error as MessageLogError {
            throw error
        } catch {
            throw MessageLogError(code: .database, message: what, path: configuration.path, reason: "\(error)")
        }
    }
}
