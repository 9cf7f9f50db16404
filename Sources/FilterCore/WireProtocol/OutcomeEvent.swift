import Foundation

/// The body of one event of wire protocol v1: the final outcome for one recipient of one
/// message, published to `mailfilter.events` with the owner as routing key (docs/protocol.md,
/// "Events").
///
/// Unknown fields are ignored when decoding, so later servers may send more than this.
public struct OutcomeEvent: Sendable, Hashable, Codable {
    /// The protocol version; always 1 here.
    public var version: Int
    /// What the event reports; always ``outcomeType`` here.
    public var type: String
    /// The request id of the recipient (the idempotency key; also the AMQP `message_id`): the
    /// id the owner was asked under, or `<queueId>.<recipient index>` for a recipient that was
    /// never asked. A repeated event carries the same id.
    public var id: String
    /// The server's queue id of the message.
    public var queueID: String
    /// The canonical owner of the recipient: the routing key.
    public var owner: String
    /// The recipient as given in `RCPT TO`.
    public var recipient: String
    /// The envelope sender (`MAIL FROM`); empty for the null sender.
    public var sender: String
    /// The action that was applied.
    public var action: FilterAction
    /// Who or what decided the action.
    public var source: RecipientDecision.Source
    /// The final state: `delivered`, `denied`, `quarantined` or `failed` (an open set).
    public var state: String
    /// The client's reason for its decision, when it gave one.
    public var reason: String?
    /// The next hop's last reply or the server's diagnostic, when there is one.
    public var detail: String?
    /// When the outcome became final.
    public var at: Date

    /// The `type` of an outcome event.
    public static let outcomeType = "outcome"

    /// Creates an outcome event.
    public init(
        id: String, queueID: String, owner: String, recipient: String, sender: String, action: FilterAction,
        source: RecipientDecision.Source, state: String, reason: String? = nil, detail: String? = nil, at: Date
    ) {
        self.version = 1
        self.type = Self.outcomeType
        self.id = id
        self.queueID = queueID
        self.owner = owner
        self.recipient = recipient
        self.sender = sender
        self.action = action
        self.source = source
        self.state = state
        self.reason = reason
        self.detail = detail
        self.at = at
    }

    private enum CodingKeys: String, CodingKey {
        case version, type, id
        case queueID = "queueId"
        case owner, recipient, sender, action, source, state, reason, detail, at
    }
}

extension OutcomeEvent {
    /// Reads an event body (docs/protocol.md, "Events"). Unknown fields are ignored.
    /// - Throws: ``WireProtocolError``; ``WireProtocolError/Code/invalidFieldType`` for a
    ///   `type` other than `outcome`.
    public init(wireJSON bytes: some Collection<UInt8>) throws(WireProtocolError) {
        self = try WireJSON.decode(OutcomeEvent.self, from: bytes)
        guard type == Self.outcomeType else {
            throw WireProtocolError(
                .invalidFieldType, "the event type \(type) is not defined by wire protocol v1", field: "type")
        }
    }

    /// The event body as wire JSON.
    /// - Throws: ``WireProtocolError/Code/unencodable`` (the event holds no floating-point
    ///   number, so in practice it does not).
    public func wireJSON() throws(WireProtocolError) -> [UInt8] {
        var writer = CompactJSONWriter()
        writer.object { writer in
            writer.field("action", action.rawValue)
            writer.field("at", at)
            writer.field("detail", detail)
            writer.field("id", id)
            writer.field("owner", owner)
            writer.field("queueId", queueID)
            writer.field("reason", reason)
            writer.field("recipient", recipient)
            writer.field("sender", sender)
            writer.field("source", source.rawValue)
            writer.field("state", state)
            writer.field("type", type)
            writer.field("version", version)
        }
        return writer.bytes
    }
}
