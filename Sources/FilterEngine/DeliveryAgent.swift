import FilterCore
import FilterSMTP
import Foundation
import Logging
import NIOCore

/// Delivers spooled messages to the next hop and records each recipient's outcome.
///
/// With a transport, recipients are first decided by their owners (``DecisionStage``), beside
/// the workers so that a slow owner never holds one; `deny` makes a recipient final without
/// delivery, every other action is delivered as `pass` in this version. A temporary failure keeps the
/// message spooled and schedules a retry with backoff; a permanent failure, or a temporary one
/// that outlives the queue lifetime, fails the recipient and spools a DSN for the sender before
/// the failure is recorded, so a crash can duplicate a DSN but never lose one.
final class DeliveryAgent: Sendable {
    let spool: Spool
    let queue: DeliveryQueue
    let client: SMTPClient
    let dsnComposer: DSNComposer
    let configuration: FilterServerConfiguration
    let logger: Logger
    /// How recipients are decided before delivery; `nil` without a transport (all pass).
    let decisions: DecisionStage?

    init(
        spool: Spool, queue: DeliveryQueue, client: SMTPClient, decisions: DecisionStage?,
        configuration: FilterServerConfiguration, logger: Logger
    ) {
        self.spool = spool
        self.queue = queue
        self.client = client
        self.decisions = decisions
        self.dsnComposer = DSNComposer(reportingMTA: configuration.hostname)
        self.configuration = configuration
        self.logger = logger
    }

    /// Takes messages from the queue until it closes.
    func runWorker() async {
        while let item = await queue.next() {
            await deliver(item.entry, content: item.content)
        }
    }

    /// One delivery attempt for every recipient of the message that is not final yet; reports
    /// the message's new state to the queue.
    /// - Parameters:
    ///   - entry: The message's state.
    ///   - content: Its bytes if they are in memory; read from the spool otherwise.
    func deliver(_ entry: SpoolEntry, content: ByteBuffer?) async {
        var entry = entry
        var logger = self.logger
        logger[metadataKey: "mail.queue.id"] = .stringConvertible(entry.queueID)
        let now = Date()
        if let decisions, !DecisionStage.undecided(entry).isEmpty {
            // Deciding can take until the deadline: it runs beside the workers, and the message
            // comes back to the queue once every recipient is decided.
            Task { await self.decide(entry, content: content, stage: decisions, logger: logger) }
            return
        }
        applyDenials(&entry, at: now, logger: logger)
        let pending = entry.recipients.indices.filter { !entry.recipients[$0].state.isFinal }
        guard !pending.isEmpty else {
            await finish(entry, logger: logger)
            return
        }
        entry.attempts += 1
        let outcomes = await attempt(entry, content: content, recipients: pending, logger: logger)
        var failures: [RecipientOutcome] = []
        let expired = now.timeIntervalSince(entry.receivedAt) >= configuration.delivery.maximumQueueLifetime
        for (index, outcome) in zip(pending, outcomes) {
            let recipient = entry.envelope.recipients[index]
            switch outcome {
            case .delivered(let reply):
                entry.recipients[index].record(.delivered, detail: reply.description, at: now)
                logger.info("Delivered", metadata: ["mail.recipient": "<\(recipient.address)>", "smtp.reply": "\(reply)"])
            case .failed(let status, let diagnostic):
                entry.recipients[index].record(.failed, detail: diagnostic.text, at: now)
                failures.append(failure(recipient, status: status, diagnostic: diagnostic, at: now))
                logger.warning("Delivery failed", metadata: ["mail.recipient": "<\(recipient.address)>", "reason": "\(diagnostic.text)"])
            case .deferred(let reason) where expired:
                let text = "delivery time expired; last error: \(reason)"
                entry.recipients[index].record(.failed, detail: text, at: now)
                failures.append(failure(recipient, status: .init(4, 4, 7), diagnostic: .filter(text), at: now))
                logger.warning("Queue lifetime exceeded", metadata: ["mail.recipient": "<\(recipient.address)>", "reason": "\(reason)"])
            case .deferred(let reason):
                entry.recipients[index].record(.deferred, detail: reason, at: now)
                logger.notice("Delivery deferred", metadata: ["mail.recipient": "<\(recipient.address)>", "reason": "\(reason)"])
            }
        }
        if !failures.isEmpty, await !spoolDSN(for: entry, failures: failures, logger: logger) {
            // Without a durable DSN a failure must not become final: keep those recipients
            // deferred, so the next attempt decides (and reports) again.
            for index in pending where entry.recipients[index].state == .failed {
                entry.recipients[index].state = .deferred
            }
        }
        if entry.isFinal {
            await finish(entry, logger: logger)
        } else {
            let delay = configuration.delivery.backoff(afterAttempts: entry.attempts)
            let retryAt = now.addingTimeInterval(delay)
            entry.nextAttemptAt = retryAt
            await save(entry, logger: logger)
            await queue.finished(entry, retryAt: retryAt)
        }
    }

    // MARK: - Decisions

    /// Records request ids (durably, before asking), asks the owners and hands the message,
    /// decided, back to the queue.
    private func decide(_ entry: SpoolEntry, content: ByteBuffer?, stage: DecisionStage, logger: Logger) async {
        var entry = entry
        if DecisionStage.assignRequestIDs(&entry) {
            await save(entry, logger: logger)
        }
        let message: ByteBuffer
        do {
            if let content {
                message = content
            } else {
                message = try await spool.readMessage(entry.queueID, maximumBytes: stage.configuration.maximumRequestBytes)
            }
        } catch {
            logger.error("Cannot read the message to ask its owners; retrying later", metadata: ["error": "\(error)"])
            await queue.finished(entry, retryAt: Date().addingTimeInterval(configuration.delivery.minimumBackoff))
            return
        }
        let decided = await stage.decide(entry, message: message)
        // Not saved here: the delivery attempt that follows at once saves the decisions with
        // its outcome whenever the message stays spooled. A crash in between costs a second
        // question with the same request ids, never a message.
        await queue.decided(decided, content: content)
    }

    /// Makes every recipient whose owner denied the message final without delivery; warns
    /// about actions this version delivers as `pass`.
    private func applyDenials(_ entry: inout SpoolEntry, at now: Date, logger: Logger) {
        for index in entry.recipients.indices where !entry.recipients[index].state.isFinal {
            guard let decision = entry.recipients[index].decision else { continue }
            let address = entry.envelope.recipients[index].address
            let reason = decision.reply?.reason ?? "no reason given"
            switch decision.action {
            case .pass:
                continue
            case .deny:
                entry.recipients[index].record(.denied, detail: "denied (\(decision.source)): \(reason)", at: now)
                logger.notice("Denied; not delivered", metadata: [
                    "mail.recipient": "<\(address)>", "filter.source": "\(decision.source)", "reason": "\(reason)",
                ])
            default:
                logger.warning("Action not applied in this version; delivering as pass", metadata: [
                    "mail.recipient": "<\(address)>", "filter.action": "\(decision.action)",
                ])
            }
        }
    }

    // MARK: - One attempt

    private enum Outcome {
        case delivered(SMTPReply)
        case failed(EnhancedStatusCode, DSNDiagnostic)
        case deferred(String)
    }

    private func attempt(_ entry: SpoolEntry, content: ByteBuffer?, recipients: [Int], logger: Logger) async -> [Outcome] {
        do {
            let body: OutboundContent
            if let content {
                body = .bytes(content)
            } else {
                body = try await self.content(of: entry)
            }
            let transaction = OutboundTransaction(
                mailFrom: entry.envelope.mailFrom,
                parameters: entry.envelope.parameters,
                recipients: recipients.map { entry.envelope.recipients[$0] },
                client: entry.envelope.client,
                content: body)
            let result = try await client.send(transaction, logger: logger)
            return result.recipients.indices.map { Self.outcome(result.finalReply(forRecipientAt: $0)) }
        } catch let error as SMTPClientError where !error.isTransient {
            let status = error.reply?.enhancedStatus ?? .init(5, 0, 0)
            let diagnostic = error.reply.map(DSNDiagnostic.smtp) ?? .filter(error.description)
            return Array(repeating: .failed(status, diagnostic), count: recipients.count)
        } catch {
            return Array(repeating: .deferred("\(error)"), count: recipients.count)
        }
    }

    /// What the transaction sends: a message no larger than the spool's in-memory threshold
    /// is read in one thread-pool job; a larger one is streamed from its file.
    private func content(of entry: SpoolEntry) async throws(SpoolError) -> OutboundContent {
        guard entry.messageSize <= spool.configuration.flushThreshold else {
            return .file(path: spool.messagePath(for: entry.queueID))
        }
        let bytes = try await spool.readMessage(entry.queueID, maximumBytes: entry.messageSize + 1)
        // A body that is not the size recorded at commit must not be sent as if it were whole.
        guard bytes.readableBytes == entry.messageSize else {
            throw SpoolError(
                code: .corrupt, message: "message file has \(bytes.readableBytes) octets, \(entry.messageSize) recorded",
                path: spool.messagePath(for: entry.queueID))
        }
        return .bytes(bytes)
    }

    private static func outcome(_ reply: SMTPReply) -> Outcome {
        if reply.isPositive { return .delivered(reply) }
        if reply.isTransientFailure { return .deferred(reply.description) }
        return .failed(reply.enhancedStatus ?? .init(5, 0, 0), .smtp(reply))
    }

    private func failure(
        _ recipient: EnvelopeRecipient, status: EnhancedStatusCode, diagnostic: DSNDiagnostic, at date: Date
    ) -> RecipientOutcome {
        let permanent = EnhancedStatusCode(5, status.subject, status.detail)
        return RecipientOutcome(
            recipient: recipient, action: .failed, status: permanent, diagnostic: diagnostic,
            remoteMTA: "\(configuration.nextHop.host)", lastAttemptDate: date)
    }

    // MARK: - DSN and bookkeeping

    /// Composes the DSN for the failed recipients and spools it as a message of its own.
    /// Returns false when it could not be made durable.
    private func spoolDSN(for entry: SpoolEntry, failures: [RecipientOutcome], logger: Logger) async -> Bool {
        let report = DeliveryReport(
            envelope: entry.envelope, queueID: entry.queueID, arrivalDate: entry.receivedAt, recipients: failures)
        let original: ByteBuffer
        do {
            original = try await spool.readMessage(entry.queueID, maximumBytes: dsnComposer.maximumReturnedBytes + 1)
        } catch {
            logger.error("Cannot read the message for its DSN", metadata: ["error": "\(error)"])
            return false
        }
        guard let dsn = dsnComposer.compose(report, originalMessage: original, originalSize: entry.messageSize) else {
            logger.info("No DSN sent: suppressed by the DSN rules", metadata: ["mail.from": "<\(entry.envelope.mailFrom)>"])
            return true
        }
        do {
            let writer = spool.beginMessage()
            try await writer.write(dsn.message)
            let envelope = Envelope(
                mailFrom: dsn.mailFrom, parameters: dsn.parameters, recipients: [EnvelopeRecipient(address: dsn.recipient)])
            let dsnEntry = try await writer.commit(envelope: envelope, receivedAt: Date())
            await queue.insert(dsnEntry)
            logger.info("DSN queued", metadata: ["mail.dsn.queue.id": "\(dsnEntry.queueID)", "mail.to": "<\(dsn.recipient)>"])
            return true
        } catch {
            logger.error("Cannot spool the DSN", metadata: ["error": "\(error)"])
            return false
        }
    }

    private func save(_ entry: SpoolEntry, logger: Logger) async {
        do {
            try await spool.update(entry)
        } catch {
            logger.error("Cannot record delivery state", metadata: ["error": "\(error)"])
        }
    }

    private func finish(_ entry: SpoolEntry, logger: Logger) async {
        do {
            try await spool.remove(entry.queueID)
            await queue.finished(entry, retryAt: nil)
            logger.info("Removed from the spool: every recipient is final")
        } catch {
            // The entry stays; a restart (or the operator) finishes the removal.
            await queue.abandoned(entry)
            logger.error("Cannot remove the spool entry", metadata: ["error": "\(error)"])
        }
    }
}
