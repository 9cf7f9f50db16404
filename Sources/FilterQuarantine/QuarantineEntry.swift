import FilterCore
import Foundation

/// One message held in quarantine for one recipient: what the store keeps besides the
/// message's bytes, enough to list it, explain it and release it.
public struct QuarantineEntry: Sendable, Hashable, Codable {
    /// The entry's id, unique in the store and the base name of its message file (normally
    /// the request id of the recipient, `<queue id>.<recipient index>`).
    public var id: String
    /// The spool queue id under which the message was received.
    public var queueID: String
    /// The envelope sender (`MAIL FROM`), empty for the null reverse-path.
    public var sender: String
    /// The recipient the message was quarantined for, as in `RCPT TO`.
    public var recipient: String
    /// The recipient's owner (canonical address), whose client decided.
    public var owner: String
    /// The action that put the message here (`quarantine` or `virus`).
    public var action: FilterAction
    /// Why: the client's reason or the server's.
    public var reason: String
    /// When the server accepted the message.
    public var receivedAt: Date
    /// When the message entered the quarantine.
    public var quarantinedAt: Date
    /// When ``QuarantineStore/expire(now:)`` deletes the entry.
    public var expiresAt: Date
    /// The size of the stored message in octets.
    public var size: Int
    /// The message's envelope with this one recipient: what a release delivers with.
    public var envelope: Envelope
    /// Who decided, and the score and tags of the decision; `nil` for entries stored without.
    public var verdict: QuarantineVerdict?

    /// Creates an entry.
    public init(
        id: String, queueID: String, sender: String, recipient: String, owner: String, action: FilterAction,
        reason: String, receivedAt: Date, quarantinedAt: Date, expiresAt: Date, size: Int, envelope: Envelope,
        verdict: QuarantineVerdict? = nil
    ) {
        self.id = id
        self.queueID = queueID
        self.sender = sender
        self.recipient = recipient
        self.owner = owner
        self.action = action
        self.reason = reason
        self.receivedAt = receivedAt
        self.quarantinedAt = quarantinedAt
        self.expiresAt = expiresAt
        self.size = size
        self.envelope = envelope
        self.verdict = verdict
    }
}

/// The decision that quarantined a message, beyond its action and reason.
public struct QuarantineVerdict: Sendable, Hashable, Codable {
    /// Who or what decided: `client`, or the server's `deadline`, `offline`, ... (docs/filtering.md).
    public var source: String
    /// The client's score, when it gave one.
    public var score: Double?
    /// The client's tags.
    public var tags: [String]

    /// Creates a verdict.
    public init(source: String, score: Double? = nil, tags: [String] = []) {
        self.source = source
        self.score = score
        self.tags = tags
    }

    /// `source=client score=7.5 tags=eicar,attachment`, for listings.
    public var summary: String {
        var parts = ["source=\(source)"]
        if let score { parts.append("score=\(score)") }
        if !tags.isEmpty { parts.append("tags=\(tags.joined(separator: ","))") }
        return parts.joined(separator: " ")
    }
}
