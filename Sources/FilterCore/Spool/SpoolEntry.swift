import Foundation

/// What the spool knows about one accepted message: its envelope and, per recipient, how far
/// delivery has got. Stored as `queue/ID.env` next to the raw message `queue/ID.msg`.
public struct SpoolEntry: Codable, Sendable, Hashable {
    /// The message's queue id, also the base name of its spool files.
    public var queueID: QueueID
    /// The SMTP envelope as received.
    public var envelope: Envelope
    /// When the message was accepted.
    public var receivedAt: Date
    /// The size of `ID.msg` in octets; recovery treats a different size as corruption.
    public var messageSize: Int
    /// Delivery progress, index-aligned with `envelope.recipients`.
    public var recipients: [RecipientDelivery]
    /// How many delivery attempts have been made so far.
    public var attempts: Int
    /// When the next delivery attempt is due; `nil` means as soon as possible.
    public var nextAttemptAt: Date?

    /// Creates an entry.
    public init(
        queueID: QueueID,
        envelope: Envelope,
        receivedAt: Date,
        messageSize: Int,
        recipients: [RecipientDelivery],
        attempts: Int = 0,
        nextAttemptAt: Date? = nil
    ) {
        self.queueID = queueID
        self.envelope = envelope
        self.receivedAt = receivedAt
        self.messageSize = messageSize
        self.recipients = recipients
        self.attempts = attempts
        self.nextAttemptAt = nextAttemptAt
    }

    /// Whether every recipient has a final outcome, so the entry may be removed.
    public var isFinal: Bool { recipients.allSatisfy(\.state.isFinal) }
}

/// The delivery progress of one recipient.
public struct RecipientDelivery: Codable, Sendable, Hashable {
    /// Where this recipient stands.
    public var state: RecipientState
    /// The last reply of the next hop or a diagnostic, for logs, DSNs and `filterctl spool list`.
    public var detail: String?
    /// When `state` or `detail` last changed.
    public var updatedAt: Date
    /// The id under which this recipient's owner is asked. Recorded before the request is
    /// published and reused when asking again after a restart; `nil` until then.
    public var requestID: String?
    /// The decision for this recipient, once made; `nil` while undecided.
    public var decision: RecipientDecision?
    /// When the owner first answered `pending`; the maximum hold counts from here.
    public var heldSince: Date?
    /// While held (`pending`): when the owner is asked again.
    public var heldUntil: Date?
    /// When a "delayed" DSN about the hold was sent (NOTIFY=DELAY); at most one per message.
    public var delayReportedAt: Date?

    /// Creates a recipient's progress record.
    public init(
        state: RecipientState, detail: String? = nil, updatedAt: Date, requestID: String? = nil,
        decision: RecipientDecision? = nil, heldSince: Date? = nil, heldUntil: Date? = nil
    ) {
        self.state = state
        self.detail = detail
        self.updatedAt = updatedAt
        self.requestID = requestID
        self.decision = decision
        self.heldSince = heldSince
        self.heldUntil = heldUntil
    }
}

extension RecipientDelivery {
    /// Records a new state and detail, keeping the request id and the decision.
    public mutating func record(_ state: RecipientState, detail: String?, at date: Date) {
        self.state = state
        self.detail = detail
        self.updatedAt = date
    }
}

/// How the action for one recipient was decided, and what it is.
public struct RecipientDecision: Codable, Sendable, Hashable {
    /// Who or what decided.
    public struct Source: RawRepresentable, Codable, Sendable, Hashable, CustomStringConvertible {
        public var rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

        /// The owner's client answered in time with a valid reply.
        public static let client = Source(rawValue: "client")
        /// No transport is configured, or the owner has no queue: the default action.
        public static let unsubscribed = Source(rawValue: "unsubscribed")
        /// The owner's queue has no consumer: the owner's offline policy.
        public static let offline = Source(rawValue: "offline")
        /// The broker refused or returned the request: the fallback action.
        public static let refused = Source(rawValue: "refused")
        /// No valid reply before the deadline: the fallback action.
        public static let deadline = Source(rawValue: "deadline")
        /// The broker could not be reached or failed: the fallback action.
        public static let unavailable = Source(rawValue: "unavailable")
        /// The owner kept answering `pending` past the maximum hold: the fallback action.
        public static let maximumHold = Source(rawValue: "maximum-hold")
        /// The server wrote the message itself (a DSN, a notice): delivered without asking.
        public static let server = Source(rawValue: "server")
    }

    /// The action to apply.
    public var action: FilterAction
    /// Who or what decided.
    public var source: Source
    /// The client's reply, when `source` is ``Source/client``.
    public var reply: FilterReply?

    /// Creates a decision.
    public init(action: FilterAction, source: Source, reply: FilterReply? = nil) {
        self.action = action
        self.source = source
        self.reply = reply
    }
}

/// Where one recipient stands. An open set: other modules may define more states
/// (`RecipientState(name: "quarantined", isFinal: true)`).
///
/// Finality is stored with the name, so a spool written by a newer version that knows more
/// states is still recovered correctly (a final state is never retried, a pending one is
/// never dropped).
public struct RecipientState: Codable, Sendable, Hashable, CustomStringConvertible {
    /// The state's name, as it appears in the spool file and in logs.
    public var name: String
    /// Whether nothing more will happen for this recipient.
    public var isFinal: Bool

    /// Creates a state.
    public init(name: String, isFinal: Bool) {
        self.name = name
        self.isFinal = isFinal
    }

    /// Nothing decided or attempted yet.
    public static let pending = RecipientState(name: "pending", isFinal: false)
    /// An attempt failed temporarily (4xx) and will be retried at `nextAttemptAt`.
    public static let deferred = RecipientState(name: "deferred", isFinal: false)
    /// The next hop accepted the message for this recipient.
    public static let delivered = RecipientState(name: "delivered", isFinal: true)
    /// Delivery failed permanently (5xx or lifetime exceeded); a DSN has been handled.
    public static let failed = RecipientState(name: "failed", isFinal: true)

    /// The state's name.
    public var description: String { name }

    private enum CodingKeys: String, CodingKey {
        case name
        case isFinal = "final"
    }
}
