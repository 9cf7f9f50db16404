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

    /// Creates a recipient's progress record.
    public init(state: RecipientState, detail: String? = nil, updatedAt: Date) {
        self.state = state
        self.detail = detail
        self.updatedAt = updatedAt
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
