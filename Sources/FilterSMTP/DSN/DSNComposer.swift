import FilterCore
import Foundation
import NIOCore

/// The one composer of every delivery status notification (DSN) the filter sends.
///
/// A DSN is a `multipart/report; report-type=delivery-status` message (RFC 6522, formerly
/// RFC 3462) with three parts: a human-readable explanation, the machine-readable
/// `message/delivery-status` (RFC 3464), and the original message or its header section. For
/// mail sent with `SMTPUTF8` it is a global DSN (RFC 6533): `message/global-delivery-status`
/// and `message/global` or `message/global-headers`, with UTF-8 addresses in the fields.
///
/// The composer decides whether a DSN may be sent at all (``suppression(of:originalMessage:)``)
/// and, per recipient, whether the sender asked for it (`NOTIFY`, RFC 3461 §4.1; an absent
/// `NOTIFY` means `FAILURE,DELAY`). It sends no DSN to the null sender, for mail judged spam or
/// a virus, or for mail that says it is automatic or bulk (`Auto-Submitted` other than `no`,
/// RFC 3834 §5; `Precedence: bulk|list|junk`; `List-Id`, `List-Unsubscribe`), because such
/// senders are forged or do not read bounces, and a bounce would be backscatter.
///
/// What is returned (RFC 3461 §4.3): `RET=HDRS` returns the header section; `RET=FULL` and an
/// absent `RET` (the MTA's choice; like Postfix, this composer returns the full message)
/// return the whole message in a DSN that reports a failure. Reports of delays and successes
/// return only the header section, since the message itself is still on its way or arrived.
/// A message larger than ``maximumReturnedBytes``, or passed only as a prefix, is returned as
/// its header section, and the explanation says so.
///
/// Pure code: values in, message bytes out, no I/O.
public struct DSNComposer: Sendable {
    /// The host name of this filter, for `Reporting-MTA: dns; NAME` and the `From` address.
    public var reportingMTA: String
    /// The address the explanation names for help; `nil` asks the reader to contact the
    /// postmaster without naming an address.
    public var postmasterAddress: String?
    /// The largest original message returned whole, in octets (default 1 MiB, 1 048 576);
    /// larger ones are returned as their header section, itself cut at this size.
    public var maximumReturnedBytes: Int

    /// Creates a composer.
    /// - Parameters:
    ///   - reportingMTA: this filter's host name (`Reporting-MTA`, `From: MAILER-DAEMON@NAME`).
    ///   - postmasterAddress: the address for help named in the explanation, or `nil`.
    ///   - maximumReturnedBytes: the largest message returned whole, in octets; default 1 MiB.
    public init(reportingMTA: String, postmasterAddress: String? = nil, maximumReturnedBytes: Int = 1_048_576) {
        self.reportingMTA = reportingMTA
        self.postmasterAddress = postmasterAddress
        self.maximumReturnedBytes = max(0, maximumReturnedBytes)
    }

    /// Why no DSN may be sent for `report`, or `nil` when one may.
    /// - Parameters:
    ///   - report: the message and the recipient outcomes.
    ///   - originalMessage: the original message or a prefix holding its header section.
    public func suppression(of report: DeliveryReport, originalMessage: ByteBuffer) -> DSNSuppression? {
        switch evaluate(report, original: DSNOriginalMessage(originalMessage)) {
        case .suppressed(let suppression): suppression
        case .send: nil
        }
    }

    /// Composes the DSN for `report`, or returns `nil` when the rules say none may be sent
    /// (see ``suppression(of:originalMessage:)`` for the reason).
    /// - Parameters:
    ///   - report: the message and the recipient outcomes; recipients whose `NOTIFY` does not
    ///     ask for their kind of report are left out.
    ///   - originalMessage: the original message, or only its first part when it is large.
    ///   - originalSize: the size of the whole original in octets when `originalMessage` is only
    ///     a prefix; `nil` means `originalMessage` is complete.
    ///   - date: the DSN's `Date`.
    ///   - messageID: the DSN's `Message-ID` without angle brackets; `nil` makes a unique one.
    public func compose(
        _ report: DeliveryReport, originalMessage: ByteBuffer, originalSize: Int? = nil, date: Date = Date(),
        messageID: String? = nil
    ) -> ComposedDSN? {
        let original = DSNOriginalMessage(originalMessage)
        guard case .send(let outcomes) = evaluate(report, original: original) else { return nil }
        let envelope = report.envelope
        let global =
            envelope.parameters.smtpUTF8 || !envelope.mailFrom.unicodeScalars.allSatisfy(\.isASCII)
            || outcomes.contains { !$0.recipient.address.unicodeScalars.allSatisfy(\.isASCII) }
        let reportsFailure = outcomes.contains { $0.action.notifyCondition == .failure }
        let isComplete = originalSize.map { $0 <= originalMessage.readableBytes } ?? true
        let returned = returnedContent(
            original, wantsFull: reportsFailure && envelope.parameters.ret != .headers, isComplete: isComplete,
            originalSize: originalSize ?? original.bytes.count)

        let explanation = explanationPart(report, outcomes: outcomes, returned: returned, global: global)
        let status = statusPart(report, outcomes: outcomes, global: global)
        let content = contentPart(returned, global: global)
        let boundary = boundary(for: report, date: date, avoiding: [explanation, status, content])
        let id = messageID ?? defaultMessageID(report, date: date)

        var message: [UInt8] = []
        message += DSNText.field("From", "Mail Delivery System <MAILER-DAEMON@\(reportingMTA)>")
        message += DSNText.field("To", "<\(DSNText.sanitized(envelope.mailFrom, allowUTF8: global))>")
        message += DSNText.field("Subject", subject(outcomes))
        message += DSNText.field("Date", RFC5322Date.format(date))
        message += DSNText.field("Message-ID", "<\(id)>")
        message += DSNText.field("MIME-Version", "1.0")
        message += DSNText.field("Auto-Submitted", "auto-replied")
        message += DSNText.field(
            "Content-Type", "multipart/report; report-type=delivery-status; boundary=\"\(boundary)\"")
        let eightBit = [explanation, status, content].contains { $0.contains { $0 >= 0x80 } }
        if eightBit { message += DSNText.field("Content-Transfer-Encoding", "8bit") }
        message += DSNText.crlf
        message += Array("This is a MIME-encapsulated message.".utf8) + DSNText.crlf + DSNText.crlf
        for part in [explanation, status, content] {
            message += Array("--\(boundary)".utf8) + DSNText.crlf + part
        }
        message += Array("--\(boundary)--".utf8) + DSNText.crlf

        return ComposedDSN(
            mailFrom: "", recipient: envelope.mailFrom,
            parameters: MailParameters(body: eightBit ? .eightBitMIME : nil, smtpUTF8: global),
            messageID: id, message: ByteBuffer(bytes: message))
    }

    // MARK: - Rules

    private enum Decision {
        case suppressed(DSNSuppression)
        case send([RecipientOutcome])
    }

    private func evaluate(_ report: DeliveryReport, original: DSNOriginalMessage) -> Decision {
        if report.envelope.hasNullSender {
            return .suppressed(DSNSuppression(.nullSender, detail: "the original has the null reverse-path"))
        }
        if report.suppressForVerdict {
            return .suppressed(DSNSuppression(.verdict, detail: "the original was judged spam or a virus"))
        }
        for value in original.fieldValues(named: "Auto-Submitted") where Self.keyword(value) != "no" {
            return .suppressed(DSNSuppression(.autoSubmitted, detail: "Auto-Submitted: \(value)"))
        }
        for value in original.fieldValues(named: "Precedence")
        where ["bulk", "list", "junk"].contains(Self.keyword(value)) {
            return .suppressed(DSNSuppression(.bulkPrecedence, detail: "Precedence: \(value)"))
        }
        for name in ["List-Id", "List-Unsubscribe"] where !original.fieldValues(named: name).isEmpty {
            return .suppressed(DSNSuppression(.mailingList, detail: "the original has a \(name) field"))
        }
        let wanted = report.recipients.filter { outcome in
            (outcome.recipient.notify ?? [.failure, .delay]).contains(outcome.action.notifyCondition)
        }
        if wanted.isEmpty {
            return .suppressed(DSNSuppression(.notRequested, detail: "no recipient's NOTIFY asks for this report"))
        }
        return .send(wanted)
    }

    /// The first word of a field value, lower-case: `auto-generated; x=y (comment)` gives
    /// `auto-generated`.
    private static func keyword(_ value: String) -> String {
        String(value.prefix { !";( \t".contains($0) }).lowercased()
    }

    // MARK: - Parts

    private struct ReturnedContent {
        var isFullMessage: Bool
        var bytes: ArraySlice<UInt8>
        /// Why less than was asked for is returned, for the explanation.
        var note: String?
    }

    private func returnedContent(
        _ original: DSNOriginalMessage, wantsFull: Bool, isComplete: Bool, originalSize: Int
    ) -> ReturnedContent {
        if wantsFull, isComplete, original.bytes.count <= maximumReturnedBytes {
            return ReturnedContent(isFullMessage: true, bytes: original.bytes[...], note: nil)
        }
        let headers = original.headerSection(limit: maximumReturnedBytes)
        var notes: [String] = []
        if wantsFull {
            notes.append(
                "Your message (\(originalSize) octets) is larger than the \(maximumReturnedBytes) octets this "
                    + "system returns, so only its headers are attached.")
        }
        if headers.wasCut || !original.headerSectionIsComplete && !isComplete {
            notes.append("Its header section was too large and has been cut.")
        }
        return ReturnedContent(
            isFullMessage: false, bytes: headers.bytes, note: notes.isEmpty ? nil : notes.joined(separator: " "))
    }

    private func subject(_ outcomes: [RecipientOutcome]) -> String {
        if outcomes.contains(where: { $0.action.notifyCondition == .failure }) {
            return "Undelivered Mail Returned to Sender"
        }
        if outcomes.contains(where: { $0.action == .delayed }) { return "Delayed Mail (still being retried)" }
        return "Successful Mail Delivery Report"
    }

    /// Part 1: the explanation for people (RFC 6522 §3). US-ASCII when possible; otherwise
    /// UTF-8, quoted-printable unless the DSN is global (RFC 6533 allows 8-bit there).
    private func explanationPart(
        _ report: DeliveryReport, outcomes: [RecipientOutcome], returned: ReturnedContent, global: Bool
    ) -> [UInt8] {
        var paragraphs: [[[UInt8]]] = []
        func paragraph(_ text: String, continuation: String = "") {
            paragraphs.append(DSNText.fold(text, first: "", continuation: continuation, width: 76))
        }
        func recipientLines(_ outcomes: [RecipientOutcome]) {
            var lines: [[UInt8]] = []
            for outcome in outcomes {
                let address = DSNText.sanitized(outcome.recipient.address, allowUTF8: true)
                var text = "<\(address)>:"
                if let orcpt = outcome.recipient.originalRecipient,
                    let original = DSNText.originalRecipient(orcpt, global: true)?.split(separator: ";", maxSplits: 1).last,
                    original.lowercased() != address.lowercased()
                {
                    text += " (originally addressed to <\(original)>)"
                }
                if let diagnostic = outcome.diagnostic {
                    text += " " + DSNText.sanitized(diagnostic.text, allowUTF8: true)
                } else {
                    text += " status \(outcome.status)"
                }
                if outcome.action == .delayed, let until = outcome.willRetryUntil {
                    text += " (the mail system keeps trying until \(RFC5322Date.format(until)))"
                }
                lines += DSNText.fold(text, first: "", continuation: "    ", width: 76)
            }
            paragraphs.append(lines)
        }

        paragraph("This is the mail system at host \(reportingMTA).")
        let failed = outcomes.filter { $0.action.notifyCondition == .failure }
        let delayed = outcomes.filter { $0.action.notifyCondition == .delay }
        let succeeded = outcomes.filter { $0.action.notifyCondition == .success }
        if !failed.isEmpty {
            paragraph("Your message could not be delivered to the recipients below. The mail system gave up; the reasons follow.")
            recipientLines(failed)
        }
        if !delayed.isEmpty {
            paragraph(
                "Your message could not be delivered yet to the recipients below. The mail system will keep trying; you do not need to send it again.")
            recipientLines(delayed)
        }
        if !succeeded.isEmpty {
            paragraph("Your message was delivered, or passed on to a system that sends no further reports, for the recipients below, as you asked.")
            recipientLines(succeeded)
        }
        paragraph(
            (returned.isFullMessage ? "Your message is attached." : "The headers of your message are attached.")
                + (returned.note.map { " " + $0 } ?? ""))
        paragraph(
            "Message details: queue ID \(report.queueID), received \(RFC5322Date.format(report.arrivalDate)), "
                + "sender <\(DSNText.sanitized(report.envelope.mailFrom, allowUTF8: true))>.")
        if let postmasterAddress {
            paragraph("For help, please write to <\(postmasterAddress)> and include this report.")
        } else {
            paragraph("For help, please contact your postmaster and include this report.")
        }

        let lines = paragraphs.enumerated().flatMap { index, lines in index == 0 ? lines : [[]] + lines }
        var part = DSNText.field("Content-Description", "Notification")
        if lines.allSatisfy({ $0.allSatisfy { $0 < 0x80 } }) {
            part += DSNText.field("Content-Type", "text/plain; charset=us-ascii")
            part += DSNText.crlf + lines.flatMap { $0 + DSNText.crlf }
        } else if global {
            part += DSNText.field("Content-Type", "text/plain; charset=utf-8")
            part += DSNText.field("Content-Transfer-Encoding", "8bit")
            part += DSNText.crlf + lines.flatMap { $0 + DSNText.crlf }
        } else {
            part += DSNText.field("Content-Type", "text/plain; charset=utf-8")
            part += DSNText.field("Content-Transfer-Encoding", "quoted-printable")
            part += DSNText.crlf + MIMEWriter.quotedPrintable(lines: lines)
        }
        return part
    }

    /// Part 2: `message/delivery-status` (RFC 3464 §2) or `message/global-delivery-status`
    /// (RFC 6533 §6): the per-message fields, then one block of fields per recipient.
    private func statusPart(_ report: DeliveryReport, outcomes: [RecipientOutcome], global: Bool) -> [UInt8] {
        var part = DSNText.field("Content-Description", "Delivery report")
        var body: [UInt8] = []
        if let envid = report.envelope.parameters.envelopeID.flatMap(DSNText.envelopeID) {
            body += DSNText.field("Original-Envelope-Id", envid)
        }
        body += DSNText.field("Reporting-MTA", "dns; \(reportingMTA)")
        body += DSNText.field("Arrival-Date", RFC5322Date.format(report.arrivalDate))
        for outcome in outcomes {
            body += DSNText.crlf
            if let orcpt = outcome.recipient.originalRecipient,
                let original = DSNText.originalRecipient(orcpt, global: global)
            {
                body += DSNText.field("Original-Recipient", original)
            }
            body += DSNText.field("Final-Recipient", DSNText.finalRecipient(outcome.recipient.address, global: global))
            body += DSNText.field("Action", outcome.action.rawValue)
            body += DSNText.field("Status", outcome.status.description)
            if let remoteMTA = outcome.remoteMTA {
                body += DSNText.field("Remote-MTA", "dns; " + DSNText.sanitized(remoteMTA, allowUTF8: global))
            }
            if let diagnostic = outcome.diagnostic {
                body += DSNText.field(
                    "Diagnostic-Code",
                    "\(DSNText.sanitized(diagnostic.type, allowUTF8: false)); \(DSNText.sanitized(diagnostic.text, allowUTF8: global))"
                )
            }
            if let lastAttempt = outcome.lastAttemptDate {
                body += DSNText.field("Last-Attempt-Date", RFC5322Date.format(lastAttempt))
            }
            if outcome.action == .delayed, let until = outcome.willRetryUntil {
                body += DSNText.field("Will-Retry-Until", RFC5322Date.format(until))
            }
        }
        part += DSNText.field("Content-Type", global ? "message/global-delivery-status" : "message/delivery-status")
        if body.contains(where: { $0 >= 0x80 }) { part += DSNText.field("Content-Transfer-Encoding", "8bit") }
        return part + DSNText.crlf + body
    }

    /// Part 3: the returned message (`message/rfc822`, `message/global`) or its header section
    /// (`text/rfc822-headers`, RFC 6522 §4; `message/global-headers`, RFC 6533 §6), labelled
    /// `8bit` when it has 8-bit octets (RFC 2046 §5.2.1 forbids encoding message/rfc822).
    private func contentPart(_ returned: ReturnedContent, global: Bool) -> [UInt8] {
        let type: String
        switch (returned.isFullMessage, global) {
        case (true, false): type = "message/rfc822"
        case (true, true): type = "message/global"
        case (false, false): type = "text/rfc822-headers"
        case (false, true): type = "message/global-headers"
        }
        var part = DSNText.field("Content-Description", returned.isFullMessage ? "Undelivered Message" : "Message Headers")
        part += DSNText.field("Content-Type", type)
        if returned.bytes.contains(where: { $0 >= 0x80 }) { part += DSNText.field("Content-Transfer-Encoding", "8bit") }
        return part + DSNText.crlf + returned.bytes
    }

    // MARK: - Identifiers

    /// A boundary in Postfix's style, `QUEUEID.SECONDS/HOST`, made longer until no part
    /// contains it (RFC 2046 §5.1.1: the boundary must not occur in the encapsulated content).
    private func boundary(for report: DeliveryReport, date: Date, avoiding parts: [[UInt8]]) -> String {
        let host = String(reportingMTA.unicodeScalars.filter { $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || ".-".unicodeScalars.contains($0)) }.prefix(30).map(Character.init))
        let base = "\(report.queueID).\(Int(date.timeIntervalSince1970))/\(host)"
        var candidate = base
        var attempt = 0
        while parts.contains(where: { $0.firstRange(of: Array(candidate.utf8)) != nil }) {
            attempt += 1
            candidate = "\(base)=_\(attempt)"
        }
        return candidate
    }

    private func defaultMessageID(_ report: DeliveryReport, date: Date) -> String {
        var generator = SystemRandomNumberGenerator()
        let random = String(generator.next() as UInt64, radix: 36)
        return "\(Int(date.timeIntervalSince1970)).\(report.queueID).\(random)@\(reportingMTA)"
    }
}
