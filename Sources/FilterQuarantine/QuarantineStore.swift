import FilterCore
import Foundation
import GRDB

/// The quarantine: messages held back from one recipient, kept until released, deleted or
/// expired.
///
/// Layout of `directory`: `quarantine.sqlite` (SQLite in WAL mode, through GRDB) holds one row
/// per entry in the indexed table `entry` and the digest bookkeeping in `digest`;
/// `messages/ID` holds each entry's message bytes; `tmp/` holds files being written. A message
/// file is written to `tmp/`, synced and renamed into `messages/` before its row is inserted,
/// and a row is deleted before its file: a crash leaves at worst a file without a row, which
/// the next writable open removes, never a row without its message.
///
/// Database and file work runs on GRDB's queues or a dispatch queue, never on the cooperative
/// pool. Several processes may open the same store; only one should open it writable while
/// others read (filterd writes, `filterctl` reads when no server runs).
public final class QuarantineStore: Sendable {
    /// The store's directory.
    public let directory: String
    /// How long an entry is kept after it was quarantined. Default 30 days.
    public let retention: Duration
    /// Whether the store was opened read-only (changes fail with ``QuarantineError/Code/readOnly``).
    public let isReadOnly: Bool
    private let database: DatabasePool

    /// The default retention: 30 days.
    public static let defaultRetention = Duration.seconds(30 * 24 * 3600)

    /// Opens the store in `directory`, creating the directory and database when writable.
    /// - Parameters:
    ///   - directory: Where the database and message files live (filterd: `<spool>/quarantine`).
    ///   - retention: How long entries are kept; each entry's `expiresAt` is its quarantine
    ///     time plus this. Default ``defaultRetention`` (30 days).
    ///   - readOnly: Open an existing store for reading only (what `filterctl` does without a
    ///     running server); nothing is created or cleaned up.
    /// - Throws: ``QuarantineError`` when the directory or database cannot be used.
    public init(
        directory: String, retention: Duration = QuarantineStore.defaultRetention, readOnly: Bool = false
    ) throws(QuarantineError) {
        self.directory = directory
        self.retention = retention
        self.isReadOnly = readOnly
        let path = directory + "/quarantine.sqlite"
        if readOnly {
            guard FileManager.default.fileExists(atPath: path) else {
                throw QuarantineError(code: .notFound, message: "no quarantine database (has filterd server run with this spool?)", path: path)
            }
        } else {
            try QuarantineFiles.makeDirectory(directory)
            try QuarantineFiles.makeDirectory(directory + "/messages")
            try QuarantineFiles.makeDirectory(directory + "/tmp")
        }
        var configuration = Configuration()
        configuration.readonly = readOnly
        configuration.busyMode = .timeout(10)
        do {
            database = try DatabasePool(path: path, configuration: configuration)
            if !readOnly { try Self.migrator.migrate(database) }
        } catch {
            throw QuarantineError(code: .database, message: "cannot open the quarantine database", path: path, reason: "\(error)")
        }
        if !readOnly { try removeOrphans() }
    }

    // MARK: - Entries

    /// Quarantines one message for one recipient: writes its bytes durably, then records it.
    ///
    /// Idempotent by id: adding an id that exists returns the existing entry and writes
    /// nothing, so a crash between quarantining and recording that in the spool does not
    /// duplicate the entry when the delivery is retried.
    /// - Parameters:
    ///   - id: The entry's id (normally the recipient's request id): letters, digits, `.`,
    ///     `_` and `-`, at most 200 characters, starting with a letter or digit.
    ///   - envelope: The message's envelope with exactly the one recipient it is held for.
    ///   - queueID: The spool queue id of the message.
    ///   - owner: The recipient's owner.
    ///   - action: Why it is held: `quarantine` or `virus`.
    ///   - reason: The client's or the server's reason.
    ///   - receivedAt: When the server accepted the message.
    ///   - message: The message's bytes.
    ///   - verdict: Who decided, with score and tags, when known.
    ///   - quarantinedAt: The time of quarantining; now by default.
    /// - Returns: The stored entry.
    /// - Throws: ``QuarantineError``: `invalidArgument` for a bad id or envelope, `readOnly`,
    ///   `ioFailure` or `database` when it could not be stored (nothing is then recorded).
    public func add(
        id: String, envelope: Envelope, queueID: String, owner: String, action: FilterAction, reason: String,
        receivedAt: Date, message: [UInt8], verdict: QuarantineVerdict? = nil, quarantinedAt: Date = Date()
    ) async throws(QuarantineError) -> QuarantineEntry {
        try checkWritable()
        try Self.validate(id: id)
        guard envelope.recipients.count == 1, let recipient = envelope.recipients.first else {
            throw QuarantineError(
                code: .invalidArgument,
                message: "an entry's envelope must have exactly one recipient, \(id) has \(envelope.recipients.count)")
        }
        let entry = QuarantineEntry(
            id: id, queueID: queueID, sender: envelope.mailFrom, recipient: recipient.address, owner: owner,
            action: action, reason: reason, receivedAt: receivedAt, quarantinedAt: quarantinedAt,
            expiresAt: quarantinedAt.addingTimeInterval(retention.timeInterval), size: message.count, envelope: envelope,
            verdict: verdict)
        let envelopeJSON = try Self.encode(envelope)
        let verdictJSON = try verdict.map(Self.encode)
        let temporaryPath = directory + "/tmp/" + id
        let finalPath = messagePath(id)
        return try await access("cannot add \(id)") {
            try await database.writeWithoutTransaction { db in
                if let existing = try Self.fetchEntry(db, id: id) { return existing }
                try QuarantineFiles.writeDurably(message, temporaryPath: temporaryPath, finalPath: finalPath)
                try db.inTransaction {
                    try db.execute(
                        sql: """
                            INSERT INTO entry (id, queueID, sender, recipient, owner, action, reason, receivedAt,
                                quarantinedAt, expiresAt, size, envelope, verdict)
                            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                            ON CONFLICT(id) DO NOTHING
                            """,
                        arguments: [
                            id, queueID, entry.sender, entry.recipient, owner, action.rawValue, reason,
                            receivedAt.timeIntervalSince1970, quarantinedAt.timeIntervalSince1970,
                            entry.expiresAt.timeIntervalSince1970, message.count, envelopeJSON, verdictJSON,
                        ])
                    return .commit
                }
                return try Self.fetchEntry(db, id: id) ?? entry
            }
        }
    }

    /// Entries, oldest first (newest first with `newestFirst`).
    /// - Parameters:
    ///   - recipient: Only entries whose recipient or owner is this address (case-insensitive).
    ///   - owner: Only entries of this owner (case-insensitive): what a user may see.
    ///   - since: Only entries quarantined at or after this time.
    ///   - newestFirst: Newest first instead of oldest first.
    ///   - offset: Skip this many entries first (for pages).
    ///   - limit: At most this many.
    public func list(
        recipient: String? = nil, owner: String? = nil, since: Date? = nil, newestFirst: Bool = false, offset: Int = 0,
        limit: Int? = nil
    ) async throws(QuarantineError) -> [QuarantineEntry] {
        var conditions: [String] = []
        var arguments: StatementArguments = []
        if let recipient {
            conditions.append("(recipient = ? OR owner = ?)")
            arguments += [recipient, recipient]
        }
        if let owner {
            conditions.append("owner = ?")
            arguments += [owner]
        }
        if let since {
            conditions.append("quarantinedAt >= ?")
            arguments += [since.timeIntervalSince1970]
        }
        var sql = "SELECT * FROM entry"
        if !conditions.isEmpty { sql += " WHERE " + conditions.joined(separator: " AND ") }
        sql += newestFirst ? " ORDER BY quarantinedAt DESC, sequence DESC" : " ORDER BY quarantinedAt, sequence"
        // SQLite needs a LIMIT for an OFFSET; -1 is none.
        sql += " LIMIT ? OFFSET ?"
        arguments += [limit.map { max(0, $0) } ?? -1, max(0, offset)]
        let query = sql
        let values = arguments
        return try await access("cannot list the entries") {
            try await database.read { db in
                try Row.fetchAll(db, sql: query, arguments: values).map(Self.entry(from:))
            }
        }
    }

    /// The entry with this id, or `nil`.
    public func entry(_ id: String) async throws(QuarantineError) -> QuarantineEntry? {
        try await access("cannot read \(id)") {
            try await database.read { db in try Self.fetchEntry(db, id: id) }
        }
    }

    /// The stored message of an entry, exactly as quarantined, or its first `maximumBytes`
    /// octets (to show it without holding a large message in memory).
    /// - Throws: ``QuarantineError`` `notFound` for an unknown id, `corrupt` when the file is
    ///   missing or not the recorded size.
    public func message(_ id: String, maximumBytes: Int = .max) async throws(QuarantineError) -> [UInt8] {
        let entry = try await requireEntry(id)
        let path = messagePath(id)
        let bytes = try await QuarantineFiles.offPool { () throws(QuarantineError) in
            try QuarantineFiles.readFile(path, maximumBytes: maximumBytes)
        }
        guard bytes.count == min(entry.size, max(0, maximumBytes)) else {
            throw QuarantineError(
                code: .corrupt, message: "the message file has \(bytes.count) octets, \(entry.size) recorded", path: path)
        }
        return bytes
    }

    /// The header section of an entry's message (at most its first 64 KiB), for `show` and
    /// digests.
    /// - Throws: ``QuarantineError`` `notFound` for an unknown id.
    public func headerSection(_ id: String) async throws(QuarantineError) -> String {
        _ = try await requireEntry(id)
        let path = messagePath(id)
        let bytes = try await QuarantineFiles.offPool { () throws(QuarantineError) in
            try QuarantineFiles.readFile(path, maximumBytes: 64 * 1024)
        }
        return MessageHeaders.headerSection(of: bytes)
    }

    /// Deletes an entry and its message file.
    /// - Returns: Whether the entry existed.
    public func delete(_ id: String) async throws(QuarantineError) -> Bool {
        try checkWritable()
        let deleted = try await access("cannot delete \(id)") {
            try await database.write { db in
                try db.execute(sql: "DELETE FROM entry WHERE id = ?", arguments: [id])
                return db.changesCount > 0
            }
        }
        if deleted { try await removeFiles([id]) }
        return deleted
    }

    /// Deletes every entry whose expiry time is at or before `now`, with its message file.
    /// - Returns: How many entries were deleted.
    public func expire(now: Date) async throws(QuarantineError) -> Int {
        try checkWritable()
        let ids = try await access("cannot expire entries") {
            try await database.write { db in
                let ids = try String.fetchAll(
                    db, sql: "SELECT id FROM entry WHERE expiresAt <= ?", arguments: [now.timeIntervalSince1970])
                try db.execute(sql: "DELETE FROM entry WHERE expiresAt <= ?", arguments: [now.timeIntervalSince1970])
                return ids
            }
        }
        try await removeFiles(ids)
        return ids.count
    }

    // MARK: - Digests

    /// Per recipient, the entries quarantined since that recipient's last digest (all of them
    /// for a recipient who never had one), oldest first. Recipients are compared
    /// case-insensitively.
    public func pendingDigests() async throws(QuarantineError) -> [QuarantineDigestBatch] {
        let rows = try await access("cannot collect entries for digests") {
            try await database.read { db in
                try Row.fetchAll(
                    db,
                    sql: """
                        SELECT entry.*, digest.lastDigestAt AS digestAt FROM entry
                        LEFT JOIN digest ON digest.recipient = entry.recipient
                        WHERE entry.sequence > COALESCE(digest.lastSequence, 0)
                        ORDER BY entry.sequence
                        """
                ).map { row in
                    (try Self.entry(from: row), row["sequence"] as Int64, (row["digestAt"] as Double?).map(Date.init(timeIntervalSince1970:)))
                }
            }
        }
        var batches: [QuarantineDigestBatch] = []
        var index: [String: Int] = [:]
        for (entry, sequence, lastDigestAt) in rows {
            let key = entry.recipient.lowercased()
            if let position = index[key] {
                batches[position].entries.append(entry)
                batches[position].lastSequence = sequence
            } else {
                index[key] = batches.count
                batches.append(
                    QuarantineDigestBatch(
                        recipient: entry.recipient, entries: [entry], lastDigestAt: lastDigestAt, lastSequence: sequence))
            }
        }
        return batches
    }

    /// Records that a digest listing `batch` was sent, so the next one lists only newer
    /// entries.
    public func recordDigest(_ batch: QuarantineDigestBatch, sentAt: Date) async throws(QuarantineError) {
        try checkWritable()
        try await access("cannot record the digest for \(batch.recipient)") {
            try await database.write { db in
                try db.execute(
                    sql: """
                        INSERT INTO digest (recipient, lastSequence, lastDigestAt) VALUES (?, ?, ?)
                        ON CONFLICT(recipient) DO UPDATE SET
                            lastSequence = max(lastSequence, excluded.lastSequence), lastDigestAt = excluded.lastDigestAt
                        """,
                    arguments: [batch.recipient, batch.lastSequence, sentAt.timeIntervalSince1970])
            }
        }
    }

    /// When the last digest was sent to `recipient`, or `nil` if none was.
    public func lastDigest(for recipient: String) async throws(QuarantineError) -> Date? {
        try await access("cannot read the digest time of \(recipient)") {
            try await database.read { db in
                try Double.fetchOne(db, sql: "SELECT lastDigestAt FROM digest WHERE recipient = ?", arguments: [recipient])
                    .map(Date.init(timeIntervalSince1970:))
            }
        }
    }

    // MARK: - Internals

    /// The path of an entry's message file.
    func messagePath(_ id: String) -> String {
        directory + "/messages/" + id
    }

    private static let migrator: DatabaseMigrator = {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.execute(
                sql: """
                    CREATE TABLE entry (
                        sequence INTEGER PRIMARY KEY AUTOINCREMENT,
                        id TEXT NOT NULL UNIQUE,
                        queueID TEXT NOT NULL,
                        sender TEXT NOT NULL,
                        recipient TEXT NOT NULL COLLATE NOCASE,
                        owner TEXT NOT NULL COLLATE NOCASE,
                        action TEXT NOT NULL,
                        reason TEXT NOT NULL,
                        receivedAt REAL NOT NULL,
                        quarantinedAt REAL NOT NULL,
                        expiresAt REAL NOT NULL,
                        size INTEGER NOT NULL,
                        envelope TEXT NOT NULL
                    );
                    CREATE INDEX entry_recipient ON entry (recipient, quarantinedAt);
                    CREATE INDEX entry_owner ON entry (owner, quarantinedAt);
                    CREATE INDEX entry_queueID ON entry (queueID);
                    CREATE INDEX entry_quarantinedAt ON entry (quarantinedAt);
                    CREATE INDEX entry_expiresAt ON entry (expiresAt);
                    CREATE TABLE digest (
                        recipient TEXT PRIMARY KEY COLLATE NOCASE,
                        lastSequence INTEGER NOT NULL,
                        lastDigestAt REAL NOT NULL
                    );
                    """)
        }
        migrator.registerMigration("v2: verdict") { db in
            try db.execute(sql: "ALTER TABLE entry ADD COLUMN verdict TEXT")
        }
        return migrator
    }()

    private func checkWritable() throws(QuarantineError) {
        guard !isReadOnly else {
            throw QuarantineError(
                code: .readOnly, message: "the store was opened read-only; changes go through the running server",
                path: directory)
        }
    }

    private func requireEntry(_ id: String) async throws(QuarantineError) -> QuarantineEntry {
        guard let entry = try await entry(id) else {
            throw QuarantineError(code: .notFound, message: "\(id): no such entry in the quarantine")
        }
        return entry
    }

    /// Removes the message files of deleted rows, off the cooperative pool.
    private func removeFiles(_ ids: [String]) async throws(QuarantineError) {
        guard !ids.isEmpty else { return }
        let paths = ids.map(messagePath)
        try await QuarantineFiles.offPool { () throws(QuarantineError) in
            for path in paths { try QuarantineFiles.removeFile(path) }
        }
    }

    /// Removes what a crash can leave behind: files in `tmp/`, and message files whose row
    /// was never inserted or already deleted.
    private func removeOrphans() throws(QuarantineError) {
        for name in try QuarantineFiles.names(in: directory + "/tmp") {
            try QuarantineFiles.removeFile(directory + "/tmp/" + name)
        }
        let known: Set<String>
        do {
            known = Set(try database.read { db in try String.fetchAll(db, sql: "SELECT id FROM entry") })
        } catch {
            throw QuarantineError(code: .database, message: "cannot list the entries", path: directory, reason: "\(error)")
        }
        for name in try QuarantineFiles.names(in: directory + "/messages") where !known.contains(name) {
            try QuarantineFiles.removeFile(messagePath(name))
        }
    }

    /// Runs a database access, turning its errors into ``QuarantineError``s.
    private func access<Value>(
        _ what: String, _ body: () async throws -> Value
    ) async throws(QuarantineError) -> Value {
        do {
            return try await body()
        } catch let error as QuarantineError {
            throw error
        } catch {
            throw QuarantineError(code: .database, message: what, path: directory + "/quarantine.sqlite", reason: "\(error)")
        }
    }

    private static func validate(id: String) throws(QuarantineError) {
        let allowed = id.utf8.allSatisfy { byte in
            (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z")) || (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z"))
                || (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")) || byte == UInt8(ascii: ".")
                || byte == UInt8(ascii: "_") || byte == UInt8(ascii: "-")
        }
        guard allowed, let first = id.unicodeScalars.first, first.properties.isAlphabetic || ("0"..."9").contains(first),
            id.utf8.count <= 200
        else {
            throw QuarantineError(
                code: .invalidArgument,
                message: "\"\(id)\" is not a usable entry id (letters, digits, '.', '_', '-'; at most 200; starting with a letter or digit)")
        }
    }

    private static func encode(_ value: some Encodable) throws(QuarantineError) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        do {
            return String(decoding: try encoder.encode(value), as: UTF8.self)
        } catch {
            throw QuarantineError(code: .invalidArgument, message: "cannot encode the \(type(of: value))", reason: "\(error)")
        }
    }

    private static func fetchEntry(_ db: Database, id: String) throws -> QuarantineEntry? {
        try Row.fetchOne(db, sql: "SELECT * FROM entry WHERE id = ?", arguments: [id]).map(entry(from:))
    }

    private static func entry(from row: Row) throws -> QuarantineEntry {
        let id: String = row["id"]
        let envelope: Envelope
        do {
            envelope = try JSONDecoder().decode(Envelope.self, from: Data((row["envelope"] as String).utf8))
        } catch {
            throw QuarantineError(code: .corrupt, message: "the stored envelope of \(id) is unreadable", reason: "\(error)")
        }
        // A verdict that cannot be read (written by a later version) is left out, not fatal.
        let verdict = (row["verdict"] as String?).flatMap { try? JSONDecoder().decode(QuarantineVerdict.self, from: Data($0.utf8)) }
        return QuarantineEntry(
            id: id, queueID: row["queueID"], sender: row["sender"], recipient: row["recipient"], owner: row["owner"],
            action: FilterAction(rawValue: row["action"]), reason: row["reason"],
            receivedAt: Date(timeIntervalSince1970: row["receivedAt"]),
            quarantinedAt: Date(timeIntervalSince1970: row["quarantinedAt"]),
            expiresAt: Date(timeIntervalSince1970: row["expiresAt"]), size: row["size"], envelope: envelope, verdict: verdict)
    }
}

/// The entries one recipient has not yet been told about in a digest.
public struct QuarantineDigestBatch: Sendable, Hashable {
    /// The recipient the digest goes to.
    public var recipient: String
    /// The entries, oldest first.
    public var entries: [QuarantineEntry]
    /// When the recipient's previous digest was sent; `nil` if none was.
    public var lastDigestAt: Date?
    /// The store's sequence number of the newest entry, recorded by
    /// ``QuarantineStore/recordDigest(_:sentAt:)``.
    var lastSequence: Int64
}
