import FilterCore
import Foundation
import NIOCore

/// The `Action` of one recipient in a delivery status notification (RFC 3464 §2.3.3).
///
/// An open value set: RFC 3464 defines the five values below; others may be registered later.
public struct DSNAction: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
    /// The action keyword, lower-case.
    public var rawValue: String

    /// Creates an action from its keyword (case-insensitive).
    public init(rawValue: String) { self.rawValue = rawValue.lowercased() }

    /// The message could not be delivered and the mail system gave up.
    public static let failed = DSNAction(rawValue: "failed")
    /// Delivery has not succeeded yet; the mail system keeps trying.
    public static let delayed = DSNAction(rawValue: "delayed")
    /// The message was delivered to the recipient.
    public static let delivered = DSNAction(rawValue: "delivered")
    /// The message was passed on to a system that will not send further DSNs.
    public static let relayed = DSNAction(rawValue: "relayed")
    /// The message was delivered to the recipient and forwarded to further addresses.
    public static let expanded = DSNAction(rawValue: "expanded")

    public var description: String { rawValue }

    /// The `NOTIFY=` keyword under which the sender asked for reports with this action
    /// (RFC 3461 §4.1): `DELAY` for delays, `SUCCESS` for the three success actions, and
    /// `FAILURE` for failures and for any action this code does not know yet.
    var notifyCondition: DSNNotify {
        if self == .delayed { return .delay }
        if self == .delivered || self == .relayed || self == .expanded { return .success }
        return .failure
    }
}

/// What went wrong for one recipient, as written to `Diagnostic-Code` (RFC 3464 §2.3.6).
///
/// The composer copies the text as given (control characters removed). Put into it only what
/// policy allows the sender to see: a filter client's `reason` is the caller's decision.
public struct DSNDiagnostic: Sendable, Hashable {
    /// The diagnostic type: `smtp` for an SMTP reply, `X-...` for the filter's own reasons.
    public var type: String
    /// The diagnostic text, one line.
    public var text: String

    /// Creates a diagnostic of any type.
    public init(type: String, text: String) {
        self.type = type
        self.text = text
    }

    /// The reply of an SMTP server, written as `smtp; 550 5.1.1 text`.
    public static func smtp(_ reply: SMTPReply) -> DSNDiagnostic {
        DSNDiagnostic(type: "smtp", text: reply.description)
    }

    /// A reason of this filter's own (a deny, a hold that expired), written as `X-Filter; text`.
    public static func filter(_ text: String) -> DSNDiagnostic {
        DSNDiagnostic(type: "X-Filter", text: text)
    }
}

/// The outcome for one recipient that a DSN reports (RFC 3464 §2.3).
public struct RecipientOutcome: Sendable, Hashable {
    /// The envelope recipient with its `NOTIFY` and `ORCPT` parameters.
    public var recipient: EnvelopeRecipient
    /// `failed`, `delayed`, ...
    public var action: DSNAction
    /// The RFC 3463 status: `5.x.x` for failed, `4.x.x` for delayed, `2.x.x` for success.
    public var status: EnhancedStatusCode
    /// What the remote MTA or the filter said, if anything.
    public var diagnostic: DSNDiagnostic?
    /// The host name of the MTA that gave the diagnostic (the next hop), if one did.
    public var remoteMTA: String?
    /// When the last delivery attempt was made.
    public var lastAttemptDate: Date?
    /// For `delayed`: until when the mail system keeps trying.
    public var willRetryUntil: Date?

    /// Creates a recipient outcome.
    public init(
        recipient: EnvelopeRecipient, action: DSNAction, status: EnhancedStatusCode,
        diagnostic: DSNDiagnostic? = nil, remoteMTA: String? = nil, lastAttemptDate: Date? = nil,
        willRetryUntil: Date? = nil
    ) {
        self.recipient = recipient
        self.action = action
        self.status = status
        self.diagnostic = diagnostic
        self.remoteMTA = remoteMTA
        self.lastAttemptDate = lastAttemptDate
        self.willRetryUntil = willRetryUntil
    }
}

/// Everything the DSN composer needs to know about one message and the recipients to report.
public struct DeliveryReport: Sendable, Hashable {
    /// The envelope of the original message (sender, `RET`, `ENVID`, `SMTPUTF8`).
    public var envelope: Envelope
    /// The filter's queue id of the original message.
    public var queueID: QueueID
    /// When the filter accepted the original message.
    public var arrivalDate: Date
    /// The recipients to report on; those whose `NOTIFY` does not ask for it are left out.
    public var recipients: [RecipientOutcome]
    /// The message was judged spam or a virus: no DSN at all, since its sender is almost
    /// certainly forged and a bounce would be backscatter.
    public var suppressForVerdict: Bool

    /// Creates a report.
    public init(
        envelope: Envelope, queueID: QueueID, arrivalDate: Date, recipients: [RecipientOutcome],
        suppressForVerdict: Bool = false
    ) {
        self.envelope = envelope
        self.queueID = queueID
        self.arrivalDate = arrivalDate
        self.recipients = recipients
        self.suppressForVerdict = suppressForVerdict
    }
}

/// Why the composer sent no DSN, for the log.
public struct DSNSuppression: Sendable, Hashable, CustomStringConvertible {
    /// The rule that applied; an open value set.
    public struct Reason: RawRepresentable, Sendable, Hashable {
        /// The reason's name, for logs and metrics.
        public var rawValue: String
        /// Creates a reason.
        public init(rawValue: String) { self.rawValue = rawValue }

        /// The original was sent with the null reverse-path (it is itself a notification).
        public static let nullSender = Reason(rawValue: "null-sender")
        /// The original was judged spam or a virus.
        public static let verdict = Reason(rawValue: "verdict")
        /// No recipient's `NOTIFY` asks for this kind of report (RFC 3461 §4.1).
        public static let notRequested = Reason(rawValue: "not-requested")
        /// The original carries `Auto-Submitted` other than `no` (RFC 3834 §5).
        public static let autoSubmitted = Reason(rawValue: "auto-submitted")
        /// The original carries `Precedence: bulk`, `list` or `junk`.
        public static let bulkPrecedence = Reason(rawValue: "bulk-precedence")
        /// The original carries `List-Id` or `List-Unsubscribe` (RFC 2919, RFC 2369).
        public static let mailingList = Reason(rawValue: "mailing-list")
    }

    /// The rule that applied.
    public var reason: Reason
    /// What triggered it, for example the header field found.
    public var detail: String

    /// Creates a suppression.
    public init(_ reason: Reason, detail: String) {
        self.reason = reason
        self.detail = detail
    }

    public var description: String { "\(reason.rawValue): \(detail)" }
}

/// A DSN ready to be sent: envelope and message bytes.
public struct ComposedDSN: Sendable {
    /// The reverse-path: always empty, the null sender (RFC 3461 §6.2, RFC 5321 §4.5.5), so
    /// that a DSN never causes another DSN.
    public var mailFrom: String
    /// The forward-path: the original message's sender.
    public var recipient: String
    /// `BODY=8BITMIME` when the message has 8-bit octets (returned content or a global DSN),
    /// `SMTPUTF8` for a global DSN (RFC 6533).
    public var parameters: MailParameters
    /// The DSN's `Message-ID`, without angle brackets.
    public var messageID: String
    /// The whole message: CRLF line ends, no line longer than 998 octets, not dot-stuffed.
    public var message: ByteBuffer

    /// Creates a composed DSN.
    public init(mailFrom: String, recipient: String, parameters: MailParameters, messageID: String, message: ByteBuffer) {
        self.mailFrom = mailFrom
        self.recipient = recipient
        self.parameters = parameters
        self.messageID = messageID
        self.message = message
    }
}
