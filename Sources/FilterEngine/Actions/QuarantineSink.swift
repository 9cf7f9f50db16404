import FilterCore
import FilterQuarantine
import Foundation

/// Where the server puts messages whose action is `virus` or `quarantine`: normally the
/// quarantine store. Adding must be durable when it returns, and idempotent by `id` (the
/// request id): after a crash the same recipient may be quarantined again.
public protocol QuarantineSink: Sendable {
    /// Keeps `message` for the one recipient of `envelope`, with the decision that sent it here.
    /// - Returns: The id under which it can be found (for notices).
    func quarantine(
        id: String, envelope: Envelope, queueID: String, owner: String, action: FilterAction, reason: String,
        decision: RecipientDecision, receivedAt: Date, message: [UInt8]
    ) async throws -> String
}

extension QuarantineStore: QuarantineSink {
    public func quarantine(
        id: String, envelope: Envelope, queueID: String, owner: String, action: FilterAction, reason: String,
        decision: RecipientDecision, receivedAt: Date, message: [UInt8]
    ) async throws -> String {
        let verdict = QuarantineVerdict(source: decision.source.rawValue, score: decision.reply?.score, tags: decision.reply?.tags ?? [])
        return try await add(
            id: id, envelope: envelope, queueID: queueID, owner: owner, action: action, reason: reason, receivedAt: receivedAt,
            message: message, verdict: verdict
        ).id
    }
}
