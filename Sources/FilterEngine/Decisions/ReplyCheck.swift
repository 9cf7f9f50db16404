import FilterCore
import FilterQueue
import Foundation

/// Why a reply was not applied (DESIGN.md, flow step 5). Each is logged and counted.
public struct RejectedReplyReason: Error, RawRepresentable, Sendable, Hashable, CustomStringConvertible {
    public var rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    public var description: String { rawValue }

    /// The reply has no `correlation_id`.
    public static let missingCorrelationID = RejectedReplyReason(rawValue: "missing-correlation-id")
    /// The body is not a valid reply (bad JSON, wrong version, missing fields).
    public static let malformed = RejectedReplyReason(rawValue: "malformed")
    /// The body's `action` is not one wire protocol v1 defines.
    public static let unknownAction = RejectedReplyReason(rawValue: "unknown-action")
    /// The body's `id` differs from the `correlation_id`.
    public static let idMismatch = RejectedReplyReason(rawValue: "id-mismatch")
    /// No request with this id is outstanding, nor was one recently.
    public static let unknownID = RejectedReplyReason(rawValue: "unknown-id")
    /// The request was already decided by an earlier reply.
    public static let duplicate = RejectedReplyReason(rawValue: "duplicate")
    /// The request's deadline had passed; the fallback was applied.
    public static let late = RejectedReplyReason(rawValue: "late")
    /// The reply carries no `user_id`.
    public static let missingUserID = RejectedReplyReason(rawValue: "missing-user-id")
    /// The reply's `user_id` is not the owner the request was sent to.
    public static let wrongUser = RejectedReplyReason(rawValue: "wrong-user")
}

/// The checks of a reply that need only the reply itself: everything but the server's record.
enum ReplyCheck {
    /// Decodes and checks a reply's properties and body.
    /// - Returns: The id and the decoded reply, or why it is rejected.
    static func decode(_ received: ReceivedReply) -> Result<FilterReply, RejectedReplyReason> {
        guard let correlationID = received.correlationID, !correlationID.isEmpty else {
            return .failure(.missingCorrelationID)
        }
        let reply: FilterReply
        do {
            reply = try FilterReply(wireJSON: received.body)
        } catch {
            return .failure(error.code == .unknownAction ? .unknownAction : .malformed)
        }
        guard reply.id == correlationID else { return .failure(.idMismatch) }
        return .success(reply)
    }

    /// Checks a decoded reply against the owner the server recorded for its id.
    static func authorize(_ received: ReceivedReply, owner: String) -> RejectedReplyReason? {
        guard let userID = received.userID, !userID.isEmpty else { return .missingUserID }
        return userID == owner ? nil : .wrongUser
    }
}
