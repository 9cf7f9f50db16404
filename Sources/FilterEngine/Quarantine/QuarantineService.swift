import FilterCore
import FilterQuarantine
import Foundation
import Logging
import NIOCore

/// The server's side of the quarantine: releases and deletions for the control socket,
/// periodic expiry and digests.
///
/// A command claims its entry for its whole duration (across its suspension points, where the
/// actor would otherwise let another command in): a second command on the same entry meanwhile
/// is refused, so a release can never be spooled twice.
actor QuarantineService {
    let store: QuarantineStore
    /// Entries a release or deletion is working on.
    private var claimed: Set<String> = []
    private let spool: Spool
    private let queue: DeliveryQueue
    private let configuration: QuarantineConfiguration
    private let composer: QuarantineDigestComposer
    private let logger: Logger

    init(
        store: QuarantineStore, spool: Spool, queue: DeliveryQueue, configuration: QuarantineConfiguration,
        hostname: String, logger: Logger
    ) {
        self.store = store
        self.spool = spool
        self.queue = queue
        self.configuration = configuration
        self.composer = QuarantineDigestComposer(hostname: hostname, from: configuration.digestFrom)
        self.logger = logger
    }

    /// Opens the store a server's quarantine configuration names (creating it if needed);
    /// `nil` when the quarantine is disabled.
    /// - Throws: `QuarantineError` when the store cannot be used.
    static func open(
        _ configuration: QuarantineConfiguration, server: FilterServerConfiguration, spool: Spool, queue: DeliveryQueue,
        logger: Logger
    ) throws(QuarantineError) -> QuarantineService? {
        guard configuration.isEnabled else { return nil }
        let store = try QuarantineStore(
            directory: configuration.resolvedDirectory(spoolDirectory: server.spoolDirectory),
            retention: configuration.retention)
        return QuarantineService(
            store: store, spool: spool, queue: queue, configuration: configuration, hostname: server.hostname,
            logger: logger)
    }

    // MARK: - Operator commands

    /// Reinjects an entry to its recipient through the normal delivery path, then deletes
    /// it. The spool commit comes first: a crash in between can deliver it twice, never lose it.
    /// - Returns: The entry and the queue id of the new spool message, or `nil` for an
    ///   unknown id.
    func release(_ id: String) async throws -> (QuarantineEntry, QueueID)? {
        try claim(id)
        defer { claimed.remove(id) }
        guard let entry = try await store.entry(id) else { return nil }
        let message = try await store.message(id)
        let spooled = try await spoolPreDecided(message, envelope: entry.envelope, source: .released)
        _ = try await store.delete(id)
        logger.notice(
            "Released from the quarantine by the operator",
            metadata: [
                "quarantine.id": "\(id)", "mail.queue.id": "\(spooled.queueID)", "mail.recipient": "<\(entry.recipient)>",
                "mail.original.queue.id": "\(entry.queueID)",
            ])
        return (entry, spooled.queueID)
    }

    /// Deletes an entry without delivering it.
    /// - Returns: Whether it existed.
    func delete(_ id: String) async throws -> Bool {
        try claim(id)
        defer { claimed.remove(id) }
        let deleted = try await store.delete(id)
        if deleted {
            logger.notice("Deleted from the quarantine by the operator", metadata: ["quarantine.id": "\(id)"])
        }
        return deleted
    }

    private func claim(_ id: String) throws(QuarantineError) {
        guard claimed.insert(id).inserted else {
            throw QuarantineError(code: .busy, message: "another command on \(id) is in progress; try again")
        }
    }

    // MARK: - Periodic work

    /// Expires entries every `expiryInterval` and sends due digests every
    /// `min(digestInterval, 60 s)`, until `stopped` says so (checked every second).
    nonisolated func runMaintenance(stopped: @Sendable () async -> Bool) async {
        let clock = ContinuousClock()
        var nextExpiry = clock.now
        var nextDigestCheck = clock.now + min(configuration.digestInterval, .seconds(60))
        while !Task.isCancelled, await !stopped() {
            if clock.now >= nextExpiry {
                await expire(now: Date())
                nextExpiry = clock.now + configuration.expiryInterval
            }
            if configuration.digestInterval > .zero, clock.now >= nextDigestCheck {
                await sendDigests(now: Date())
                nextDigestCheck = clock.now + min(configuration.digestInterval, .seconds(60))
            }
            try? await Task.sleep(for: .seconds(1))
        }
    }

    /// Deletes expired entries; failures are logged and tried again at the next interval.
    func expire(now: Date) async {
        do {
            let count = try await store.expire(now: now)
            if count > 0 { logger.info("Expired quarantine entries deleted", metadata: ["quarantine.expired": "\(count)"]) }
        } catch {
            logger.error("Cannot expire quarantine entries", metadata: ["error": "\(error)"])
        }
    }

    /// Spools one digest for every recipient whose entries are due: they have entries not
    /// yet reported, and their last digest (or, for a first one, their oldest unreported
    /// entry) is at least `digestInterval` old.
    /// - Returns: How many digests were spooled.
    @discardableResult
    func sendDigests(now: Date) async -> Int {
        let batches: [QuarantineDigestBatch]
        do {
            batches = try await store.pendingDigests()
        } catch {
            logger.error("Cannot collect quarantine digests", metadata: ["error": "\(error)"])
            return 0
        }
        var sent = 0
        for batch in batches {
            guard let oldest = batch.entries.first else { continue }
            let dueAt = (batch.lastDigestAt ?? oldest.quarantinedAt).addingTimeInterval(configuration.digestInterval.timeInterval)
            guard dueAt <= now else { continue }
            do {
                var items: [QuarantineDigestComposer.Item] = []
                for entry in batch.entries {
                    let headers = (try? await store.headerSection(entry.id)) ?? ""
                    items.append(.init(entry: entry, headerSection: headers))
                }
                let message = composer.compose(recipient: batch.recipient, items: items, date: now)
                // The null reverse-path, as for DSNs: a digest that cannot be delivered must
                // not bounce back into a loop. An internationalized address needs SMTPUTF8.
                let envelope = Envelope(
                    mailFrom: "", parameters: MailParameters(smtpUTF8: !batch.recipient.allSatisfy(\.isASCII)),
                    recipients: [EnvelopeRecipient(address: batch.recipient)])
                let spooled = try await spoolPreDecided(message, envelope: envelope, source: .digest)
                try await store.recordDigest(batch, sentAt: now)
                sent += 1
                logger.info(
                    "Quarantine digest queued",
                    metadata: [
                        "mail.queue.id": "\(spooled.queueID)", "mail.recipient": "<\(batch.recipient)>",
                        "quarantine.entries": "\(batch.entries.count)",
                    ])
            } catch {
                logger.error("Cannot send a quarantine digest", metadata: ["mail.recipient": "<\(batch.recipient)>", "error": "\(error)"])
            }
        }
        return sent
    }

    // MARK: - Spooling

    /// Writes a message into the spool with every recipient already decided `pass` by
    /// `source`, so no owner is asked, and hands it to delivery.
    private func spoolPreDecided(
        _ message: [UInt8], envelope: Envelope, source: RecipientDecision.Source
    ) async throws(SpoolError) -> SpoolEntry {
        let writer = spool.beginMessage()
        do {
            try await writer.write(ByteBuffer(bytes: message))
            let entry = try await writer.commit(envelope: envelope, receivedAt: Date()) { entry in
                for index in entry.recipients.indices {
                    entry.recipients[index].decision = RecipientDecision(action: .pass, source: source)
                }
            }
            await queue.insert(entry, content: await writer.committedContent)
            return entry
        } catch {
            await writer.abort()
            throw error
        }
    }
}
