import Logging

extension Spool {
    /// Brings the spool back to a consistent state at start-up and returns the work left.
    ///
    /// - Empties `tmp/`: nothing there was ever acknowledged.
    /// - Removes entries whose recipients are all final (finishes an interrupted `remove`).
    /// - Moves to `corrupt/`, with a warning carrying `mail.queue.id`: unparsable `.env`
    ///   files, `.env` files without their `.msg`, messages whose size differs from the
    ///   recorded one, `.msg` files without `.env`, and unknown files in `queue/`.
    ///
    /// Call it once, before the server accepts mail; it never throws for a bad entry.
    ///
    /// - Parameter logger: Where moved-aside files are reported.
    /// - Returns: Every entry with a recipient not yet final, sorted by queue id.
    /// - Throws: `SpoolError` `.ioFailure` only if the spool directories themselves cannot be
    ///   read or a file cannot be moved.
    public func recover(logger: Logger) async throws(SpoolError) -> [SpoolEntry] {
        try await runBlocking { () throws(SpoolError) in try self.recoverBlocking(logger: logger) }
    }

    private func recoverBlocking(logger: Logger) throws(SpoolError) -> [SpoolEntry] {
        for name in try SpoolFiles.list(temporaryDirectory) {
            _ = try SpoolFiles.remove("\(temporaryDirectory)/\(name)")
        }

        var envelopeIDs = Set<QueueID>()
        var messageIDs = Set<QueueID>()
        var movedAside = false
        for name in try SpoolFiles.list(queueDirectory) {
            if let queueID = Self.queueID(fromFileName: name, suffix: ".env") {
                envelopeIDs.insert(queueID)
            } else if let queueID = Self.queueID(fromFileName: name, suffix: ".msg") {
                messageIDs.insert(queueID)
            } else {
                try moveAside(name, queueID: nil, reason: "unknown file in the queue", logger: logger)
                movedAside = true
            }
        }

        var pending: [SpoolEntry] = []
        for queueID in envelopeIDs.sorted() {
            let envelopeName = "\(queueID.rawValue).env"
            let messageName = "\(queueID.rawValue).msg"
            let hasMessage = messageIDs.remove(queueID) != nil
            let entry: SpoolEntry
            do throws(SpoolError) {
                guard let read = try self.entry(queueID) else { continue }
                entry = read
            } catch where error.code == .corrupt {
                try moveAside(envelopeName, queueID: queueID, reason: error.description, logger: logger)
                if hasMessage { try moveAside(messageName, queueID: queueID, reason: "its envelope file is corrupt", logger: logger) }
                movedAside = true
                continue
            }
            if entry.queueID != queueID {
                try moveAside(envelopeName, queueID: queueID, reason: "envelope file names queue id \(entry.queueID)", logger: logger)
                if hasMessage { try moveAside(messageName, queueID: queueID, reason: "its envelope file is corrupt", logger: logger) }
                movedAside = true
                continue
            }
            if entry.isFinal {
                // A removal was interrupted (or its unlinks reordered): finish it.
                _ = try SpoolFiles.remove(envelopePath(for: queueID))
                _ = try SpoolFiles.remove(messagePath(for: queueID))
                logger.debug("finished removing a delivered message", metadata: ["mail.queue.id": "\(queueID)"])
                continue
            }
            guard hasMessage else {
                try moveAside(envelopeName, queueID: queueID, reason: "its message file is missing", logger: logger)
                movedAside = true
                continue
            }
            let size = try SpoolFiles.fileSize(messagePath(for: queueID))
            guard size == entry.messageSize else {
                let reason = "message file has \(size ?? 0) bytes, envelope file records \(entry.messageSize)"
                try moveAside(envelopeName, queueID: queueID, reason: reason, logger: logger)
                try moveAside(messageName, queueID: queueID, reason: reason, logger: logger)
                movedAside = true
                continue
            }
            pending.append(entry)
        }
        for queueID in messageIDs.sorted() {
            try moveAside("\(queueID.rawValue).msg", queueID: queueID, reason: "message file without envelope file", logger: logger)
            movedAside = true
        }
        if movedAside {
            try SpoolFiles.syncDirectory(corruptDirectory)
            try SpoolFiles.syncDirectory(queueDirectory)
        }
        return pending
    }

    /// Moves `queue/name` to `corrupt/`, never overwriting an earlier file of the same name.
    private func moveAside(_ name: String, queueID: QueueID?, reason: String, logger: Logger) throws(SpoolError) {
        var destination = "\(corruptDirectory)/\(name)"
        var counter = 1
        while try SpoolFiles.fileSize(destination) != nil {
            destination = "\(corruptDirectory)/\(name).\(counter)"
            counter += 1
        }
        try SpoolFiles.move("\(queueDirectory)/\(name)", to: destination)
        var metadata: Logger.Metadata = ["spool.file": "\(destination)"]
        if let queueID { metadata["mail.queue.id"] = "\(queueID)" }
        logger.warning("moved a damaged spool file aside: \(reason)", metadata: metadata)
    }
}
