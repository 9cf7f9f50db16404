import FilterCore
import FilterSMTP
import Foundation
import Logging
import NIOCore

/// Delivers spooled messages to the next hop and records each recipient's outcome.
///
/// With a transport, recipients are first decided by their owners (``DecisionStage``), beside
/// the workers so that a slow owner never holds one, and each decision is applied
/// (``DeliveryPlanner``): copies are delivered with their header edits, recipients sharing a
/// transaction only when their copies are identical; `deny` discards or bounces, `virus` and
/// `quarantine` go to the quarantine store, `pending` holds the recipient. A temporary failure keeps the
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
    /// How recipients are decided before delivery; `nil` without a transport (all pass, and
    /// messages are delivered unchanged).
    let decisions: DecisionStage?
    /// How decisions become deliveries.
    let planner: DeliveryPlanner
    /// Where quarantined messages go; without one, `virus` and `quarantine` stay deferred.
    let quarantine: (any QuarantineSink)?
    /// Who hears of each recipient's final outcome (events, metrics); `nil` for nobody.
    let outcomes: (any OutcomeObserver)?
    /// Where each transaction's result is recorded for the server's status; `nil` for nowhere.
    let nextHop: NextHopMonitor?

    init(
        spool: Spool, queue: DeliveryQueue, client: SMTPClient, decisions: DecisionStage?,
        quarantine: (any QuarantineSink)? = nil, outcomes: (any OutcomeObserver)? = nil, nextHop: NextHopMonitor? = nil,
        configuration: FilterServerConfiguration, logger: Logger
    ) {
        self.outcomes = outcomes
        self.nextHop = nextHop
        self.spool = spool
        self.queue = queue
        self.client = client
        self.decisions = decisions
        self.quarantine = quarantine
        self.planner = DeliveryPlanner(filtering: configuration.filtering)
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
        if let decisions {
            endDueHolds(&entry, at: now, logger: logger)
            if !DecisionStage.undecided(entry).isEmpty {
                // Deciding can take until the deadline: it runs beside the workers, and the
                // message comes back to the queue once every recipient is decided.
                Task { await self.decide(entry, content: content, stage: decisions, logger: logger) }
                return
            }
        }
        let wasFinal = entry.recipients.map(\.state.isFinal)
        var message = MessageSource(entry: entry, content: content, spool: spool)
        var failures: [RecipientOutcome] = []
        var copies: [Copy] = []
        for index in entry.recipients.indices where !entry.recipients[index].state.isFinal {
            if let until = entry.recipients[index].heldUntil, until > now { continue }
            let recipient = entry.envelope.recipients[index]
            guard decisions != nil else {
                Self.add(index, targets: [recipient], edits: nil, to: &copies)
                continue
            }
            let plan = planner.plan(entry, recipientAt: index, now: now)
            for warning in plan.warnings {
                logger.warning("Reply not followed in full", metadata: ["mail.recipient": "<\(recipient.address)>", "reason": "\(warning)"])
            }
            switch plan.disposition {
            case .deliver(let targets, let edits):
                Self.add(index, targets: targets, edits: edits, to: &copies)
            case .discard, .bounce, .quarantine, .hold:
                if let failure = await apply(plan.disposition, to: &entry, at: index, message: &message, now: now, logger: logger) {
                    failures.append(failure)
                }
            }
        }
        if !copies.isEmpty { entry.attempts += 1 }
        let expired = now.timeIntervalSince(entry.receivedAt) >= configuration.delivery.maximumQueueLifetime
        for copy in copies {
            let targets = copy.members.flatMap(\.targets)
            let outcomes = await attempt(entry, message: &message, targets: targets, edits: copy.edits, logger: logger)
            var position = 0
            for member in copy.members {
                let outcome = Outcome.combined(outcomes[position..<(position + member.targets.count)])
                position += member.targets.count
                if let failure = record(outcome, for: &entry, at: member.index, expired: expired, now: now, logger: logger) {
                    failures.append(failure)
                }
            }
        }
        if !failures.isEmpty, await !spoolDSN(for: entry, failures: failures, logger: logger) {
            // Without a durable DSN a failure must not become final: keep those recipients
            // deferred, so the next attempt decides (and reports) again; a delay is reported
            // at the next hold instead.
            for outcome in failures {
                guard let index = entry.envelope.recipients.firstIndex(of: outcome.recipient) else { continue }
                if outcome.action == .delayed {
                    entry.recipients[index].delayReportedAt = nil
                } else {
                    entry.recipients[index].state = .deferred
                }
            }
        }
        if let outcomes {
            for index in entry.recipients.indices where !wasFinal[index] && entry.recipients[index].state.isFinal {
                await outcomes.recipientFinished(entry, at: index)
            }
        }
        if entry.isFinal {
            await finish(entry, logger: logger)
        } else {
            let retryAt = nextAttempt(of: entry, now: now)
            entry.nextAttemptAt = retryAt
            await save(entry, logger: logger)
            await queue.finished(entry, retryAt: retryAt)
        }
    }

    /// One transaction of an attempt: recipients whose copies are identical, each with the
    /// addresses its copy goes to.
    private struct Copy {
        /// The header edits; `nil` delivers the message unchanged (no transport).
        var edits: HeaderEdits?
        /// The recipients' indices in the entry and their targets, in order.
        var members: [(index: Int, targets: [EnvelopeRecipient])]
    }

    /// Adds a recipient's copy to the copy with the same edits, or starts a new one.
    private static func add(_ index: Int, targets: [EnvelopeRecipient], edits: HeaderEdits?, to copies: inout [Copy]) {
        if let position = copies.firstIndex(where: { $0.edits == edits }) {
            copies[position].members.append((index, targets))
        } else {
            copies.append(Copy(edits: edits, members: [(index, targets)]))
        }
    }

    /// Records one recipient's delivery outcome; returns its failure for the DSN, if any.
    private func record(
        _ outcome: Outcome, for entry: inout SpoolEntry, at index: Int, expired: Bool, now: Date, logger: Logger
    ) -> RecipientOutcome? {
        let recipient = entry.envelope.recipients[index]
        switch outcome {
        case .delivered(let reply):
            entry.recipients[index].record(.delivered, detail: reply.description, at: now)
            logger.info("Delivered", metadata: ["mail.recipient": "<\(recipient.address)>", "smtp.reply": "\(reply)"])
        case .failed(let status, let diagnostic):
            entry.recipients[index].record(.failed, detail: diagnostic.text, at: now)
            logger.warning("Delivery failed", metadata: ["mail.recipient": "<\(recipient.address)>", "reason": "\(diagnostic.text)"])
            return failure(recipient, status: status, diagnostic: diagnostic, at: now)
        case .deferred(let reason) where expired:
            let text = "delivery time expired; last error: \(reason)"
            entry.recipients[index].record(.failed, detail: text, at: now)
            logger.warning("Queue lifetime exceeded", metadata: ["mail.recipient": "<\(recipient.address)>", "reason": "\(reason)"])
            return failure(recipient, status: .init(4, 4, 7), diagnostic: .filter(text), at: now)
        case .deferred(let reason):
            entry.recipients[index].record(.deferred, detail: reason, at: now)
            logger.notice("Delivery deferred", metadata: ["mail.recipient": "<\(recipient.address)>", "reason": "\(reason)"])
        }
        return nil
    }

    /// When the message should come back: the earliest of the retry backoff (for deferred
    /// recipients) and the end of each hold.
    private func nextAttempt(of entry: SpoolEntry, now: Date) -> Date {
        var times = entry.recipients.compactMap { $0.state == .held ? $0.heldUntil : nil }
        if entry.recipients.contains(where: { !$0.state.isFinal && $0.state != .held }) {
            times.append(now.addingTimeInterval(configuration.delivery.backoff(afterAttempts: entry.attempts)))
        }
        return times.min() ?? now
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

    // MARK: - One attempt

    private enum Outcome {
        case delivered(SMTPReply)
        case failed(EnhancedStatusCode, DSNDiagnostic)
        case deferred(String)

        /// One recipient's outcome from those of its copy's targets: delivered only when every
        /// target was; deferred while any target is; otherwise the first failure.
        static func combined(_ outcomes: ArraySlice<Outcome>) -> Outcome {
            if let deferred = outcomes.first(where: { if case .deferred = $0 { true } else { false } }) { return deferred }
            if let failed = outcomes.first(where: { if case .failed = $0 { true } else { false } }) { return failed }
            return outcomes.first ?? .deferred("no targets")
        }
    }

    /// One transaction: `targets` get the message with `edits` applied (unchanged when `nil`).
    private func attempt(
        _ entry: SpoolEntry, message: inout MessageSource, targets: [EnvelopeRecipient], edits: HeaderEdits?, logger: Logger
    ) async -> [Outcome] {
        do {
            var headerPrefix = ByteBuffer()
            let body: OutboundContent
            if let edits {
                let parts = try await message.parts(maximumHeaderBytes: configuration.filtering.headerFields.maximumHeaderSectionBytes)
                let allowUTF8 = entry.envelope.parameters.smtpUTF8
                headerPrefix.writeBytes(
                    parts.headerComplete
                        ? HeaderRewriter.rewrite(parts.header, with: edits, allowUTF8: allowUTF8)
                        : HeaderRewriter.addedFields(edits, allowUTF8: allowUTF8))
                body = try await message.content(from: parts.headerComplete ? parts.bodyOffset : 0)
            } else {
                body = try await message.content(from: 0)
            }
            let transaction = OutboundTransaction(
                mailFrom: entry.envelope.mailFrom,
                parameters: entry.envelope.parameters,
                recipients: targets,
                client: entry.envelope.client,
                headerPrefix: headerPrefix,
                content: body)
            let started = ContinuousClock.now
            let result: TransactionResult
            do {
                result = try await client.send(transaction, logger: logger)
            } catch {
                FilterMetrics.nextHopTransaction(after: .now - started, failedWith: error, recipients: targets.count)
                throw error
            }
            let replies = result.recipients.indices.map { result.finalReply(forRecipientAt: $0) }
            FilterMetrics.nextHopTransaction(after: .now - started, replies: replies)
            if let reply = result.dataReply ?? replies.first {
                nextHop?.record(succeeded: reply.isPositive, reply: reply.description, at: Date())
            }
            return replies.map(Self.outcome)
        } catch let error as SMTPClientError where !error.isTransient {
            nextHop?.record(succeeded: false, reply: error.description, at: Date())
            let status = error.reply?.enhancedStatus ?? .init(5, 0, 0)
            let diagnostic = error.reply.map(DSNDiagnostic.smtp) ?? .filter(error.description)
            return Array(repeating: .failed(status, diagnostic), count: targets.count)
        } catch {
            nextHop?.record(succeeded: false, reply: "\(error)", at: Date())
            return Array(repeating: .deferred("\(error)"), count: targets.count)
        }
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
            envelope: entry.envelope, queueID: entry.queueID, arrivalDate: entry.receivedAt, recipients: failures,
            suppressForVerdict: Self.judgedSpamOrVirus(entry))
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
        let envelope = Envelope(mailFrom: dsn.mailFrom, parameters: dsn.parameters, recipients: [EnvelopeRecipient(address: dsn.recipient)])
        return await spoolMessage(dsn.message, envelope: envelope, kind: "DSN", logger: logger)
    }

    /// Spools a message the server writes itself (a DSN, a notice) for delivery, pre-decided
    /// `pass` so that nobody is asked about it. Returns false when it could not be made durable.
    func spoolMessage(_ message: ByteBuffer, envelope: Envelope, kind: String, logger: Logger) async -> Bool {
        do {
            let writer = spool.beginMessage()
            try await writer.write(message)
            let committed = try await writer.commit(envelope: envelope, receivedAt: Date()) { entry in
                for index in entry.recipients.indices {
                    entry.recipients[index].decision = RecipientDecision(action: .pass, source: .server)
                }
            }
            await queue.insert(committed)
            logger.info("\(kind) queued", metadata: [
                "mail.generated.queue.id": "\(committed.queueID)", "mail.to": "\(envelope.recipients.map { "<\($0.address)>" }.joined(separator: ","))",
            ])
            return true
        } catch {
            logger.error("Cannot spool the \(kind)", metadata: ["error": "\(error)"])
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
