import FilterCore
import FilterSMTP
import Foundation
import Logging
import NIOCore

/// Applying the actions that deliver nothing now: `deny`, `virus`, `quarantine`, `pending`.
extension DeliveryAgent {
    /// Makes recipients whose hold has ended undecided again, so their owners are asked again
    /// with the same request id; past the maximum hold they get the owner's fallback action
    /// instead.
    func endDueHolds(_ entry: inout SpoolEntry, at now: Date, logger: Logger) {
        for index in entry.recipients.indices where entry.recipients[index].state == .held {
            guard let until = entry.recipients[index].heldUntil, until <= now else { continue }
            let owner = configuration.filtering.owners.owner(of: entry.envelope.recipients[index].address)
            let heldSince = entry.recipients[index].heldSince ?? now
            entry.recipients[index].heldUntil = nil
            if now.timeIntervalSince(heldSince) >= configuration.filtering.actions(for: owner).maximumHold.timeInterval {
                let fallback = configuration.filtering.fallbackAction(for: owner)
                entry.recipients[index].decision = RecipientDecision(action: fallback, source: .maximumHold)
                FilterMetrics.decided(RecipientDecision(action: fallback, source: .maximumHold))
                entry.recipients[index].record(.pending, detail: "held for the maximum time; fallback \(fallback)", at: now)
                logger.notice("Maximum hold reached; applying the fallback action", metadata: [
                    "mail.recipient": "<\(entry.envelope.recipients[index].address)>", "filter.action": "\(fallback)",
                ])
            } else {
                entry.recipients[index].decision = nil
                entry.recipients[index].record(.pending, detail: "hold ended; asking again", at: now)
            }
        }
    }

    /// Applies a disposition that sends no copy. Returns the recipient's failure when a DSN
    /// must report it (a bounced `deny`).
    func apply(
        _ disposition: Disposition, to entry: inout SpoolEntry, at index: Int, message: inout MessageSource, now: Date, logger: Logger
    ) async -> RecipientOutcome? {
        let recipient = entry.envelope.recipients[index]
        let source = entry.recipients[index].decision?.source ?? .server
        var logger = logger
        logger[metadataKey: "mail.recipient"] = "<\(recipient.address)>"
        logger[metadataKey: "filter.source"] = "\(source)"
        switch disposition {
        case .deliver:
            return nil
        case .discard(let reason):
            entry.recipients[index].record(.denied, detail: "denied (\(source)), discarded: \(reason)", at: now)
            logger.notice("Denied; discarded", metadata: ["reason": "\(reason)"])
            return nil
        case .bounce(let diagnostic):
            entry.recipients[index].record(.denied, detail: "denied (\(source)), bounced: \(diagnostic)", at: now)
            logger.notice("Denied; bounced", metadata: ["reason": "\(diagnostic)"])
            return RecipientOutcome(
                recipient: recipient, action: .failed, status: .init(5, 7, 1), diagnostic: .filter(diagnostic),
                remoteMTA: nil, lastAttemptDate: now)
        case .quarantine(let action, let reason):
            await putInQuarantine(&entry, at: index, action: action, reason: reason, message: &message, now: now, logger: logger)
            return nil
        case .hold(let until):
            let heldSince = entry.recipients[index].heldSince ?? now
            entry.recipients[index].heldSince = heldSince
            entry.recipients[index].heldUntil = until
            entry.recipients[index].record(.held, detail: "pending (\(source)); asking again at \(RFC5322Date.format(until))", at: now)
            logger.info("Held; the owner will be asked again", metadata: ["until": "\(RFC5322Date.format(until))"])
            return delayNotice(for: &entry, at: index, heldSince: heldSince, now: now)
        }
    }

    /// The "delayed" report for a recipient held longer than the owner's delay-notice time,
    /// once, and only when its NOTIFY explicitly asks for delays (RFC 3461 §4.1): a hold is
    /// the filter's choice, so nobody is told about it unasked.
    private func delayNotice(for entry: inout SpoolEntry, at index: Int, heldSince: Date, now: Date) -> RecipientOutcome? {
        let recipient = entry.envelope.recipients[index]
        let policy = configuration.filtering.actions(for: configuration.filtering.owners.owner(of: recipient.address))
        guard recipient.notify?.contains(.delay) == true, entry.recipients[index].delayReportedAt == nil,
            now.timeIntervalSince(heldSince) >= policy.delayNoticeAfter.timeInterval
        else { return nil }
        entry.recipients[index].delayReportedAt = now
        let giveUp = heldSince.addingTimeInterval(policy.maximumHold.timeInterval)
        return RecipientOutcome(
            recipient: recipient, action: .delayed, status: .init(4, 7, 0),
            diagnostic: .filter("the recipient's mail filter is holding the message; it decides by \(RFC5322Date.format(giveUp))"),
            remoteMTA: nil, lastAttemptDate: now, willRetryUntil: giveUp)
    }

    /// Puts the message into the quarantine store for one recipient, then records it; sends
    /// the notices the owner's policy asks for. Without a store, or when the store fails, the
    /// recipient stays deferred: quarantined mail is never delivered, and never dropped.
    private func putInQuarantine(
        _ entry: inout SpoolEntry, at index: Int, action: FilterAction, reason: String, message: inout MessageSource, now: Date,
        logger: Logger
    ) async {
        let recipient = entry.envelope.recipients[index]
        let owner = configuration.filtering.owners.owner(of: recipient.address)
        guard let quarantine else {
            entry.recipients[index].record(.deferred, detail: "\(action): no quarantine store configured", at: now)
            logger.error("No quarantine store; the message stays spooled", metadata: ["filter.action": "\(action)"])
            return
        }
        let id: String
        do {
            let bytes = try await message.wholeMessage()
            var single = entry.envelope
            single.recipients = [recipient]
            id = try await quarantine.quarantine(
                id: DecisionStage.requestID(of: entry, at: index), envelope: single, queueID: "\(entry.queueID)", owner: owner,
                action: action, reason: reason,
                decision: entry.recipients[index].decision ?? RecipientDecision(action: action, source: .server),
                receivedAt: entry.receivedAt, message: Array(bytes.readableBytesView))
        } catch {
            entry.recipients[index].record(.deferred, detail: "\(action): quarantine failed: \(error)", at: now)
            logger.error("Cannot quarantine; the message stays spooled", metadata: ["error": "\(error)"])
            return
        }
        entry.recipients[index].record(.quarantined, detail: "\(action) (quarantine id \(id)): \(reason)", at: now)
        logger.notice("Quarantined", metadata: ["filter.action": "\(action)", "quarantine.id": "\(id)", "reason": "\(reason)"])
        guard action == .virus else { return }
        let policy = configuration.filtering.actions(for: owner)
        var noticeTo: [String] = []
        if policy.virusNoticeToRecipient { noticeTo.append(recipient.address) }
        if let admin = policy.virusNoticeTo { noticeTo.append(admin) }
        for address in noticeTo {
            let notice = NoticeMessage(
                from: "MAILER-DAEMON@\(configuration.hostname)", to: address, subject: "Virus found in a message for \(recipient.address)",
                text: """
                    A message for \(recipient.address) contained a virus and was not delivered.

                    Sender:   \(entry.envelope.mailFrom.isEmpty ? "<>" : entry.envelope.mailFrom)
                    Received: \(RFC5322Date.format(entry.receivedAt))
                    Found:    \(reason)
                    Quarantine id: \(id)
                    """,
                hostname: configuration.hostname)
            let envelope = Envelope(mailFrom: "", recipients: [EnvelopeRecipient(address: address)])
            _ = await spoolMessage(ByteBuffer(bytes: notice.bytes()), envelope: envelope, kind: "virus notice", logger: logger)
        }
    }

    /// Whether an owner judged the message spam or a virus: then no DSN is sent for it at all
    /// (its sender is almost certainly forged).
    static func judgedSpamOrVirus(_ entry: SpoolEntry) -> Bool {
        entry.recipients.contains { delivery in
            guard let decision = delivery.decision else { return false }
            return decision.action == .spam || decision.action == .virus
                || (decision.reply?.tags ?? []).contains { ["spam", "virus"].contains($0.lowercased()) }
        }
    }
}
