import Foundation

/// The metadata of one request of wire protocol v1: the JSON object carried in the AMQP header
/// `x-mailfilter-request` (docs/protocol.md, "Request").
///
/// One request is sent per message and recipient. The message itself travels as the body.
public struct FilterRequestMetadata: Sendable, Hashable, Codable {
    /// The protocol version; always 1 here.
    public var version: Int
    /// The request id, also the AMQP `correlation_id` and the idempotency key.
    public var id: String
    /// The spool queue id of the message.
    public var queueId: String
    /// When the server accepted the message.
    public var received: Date
    /// When the server stops waiting and applies the fallback action.
    public var deadline: Date
    /// The SMTP envelope, for this one recipient.
    public var envelope: Envelope
    /// The original SMTP client, as Postfix described it through XFORWARD.
    public var client: Client
    /// The size of the whole message in octets.
    public var size: Int
    /// Whether the body was cut at the server's `maxRequestBytes`.
    public var truncated: Bool

    /// Creates request metadata.
    public init(
        id: String, queueId: String, received: Date, deadline: Date, envelope: Envelope,
        client: Client, size: Int, truncated: Bool
    ) {
        self.version = 1
        self.id = id
        self.queueId = queueId
        self.received = received
        self.deadline = deadline
        self.envelope = envelope
        self.client = client
        self.size = size
        self.truncated = truncated
    }

    /// The envelope of a request: the sender and the one recipient it is about.
    public struct Envelope: Sendable, Hashable, Codable {
        /// The reverse-path; empty for the null sender.
        public var mailFrom: String
        /// The recipient as given in `RCPT TO`.
        public var recipient: String
        /// The canonical owner of the recipient (lowercased, extension stripped, aliased).
        public var owner: String
        /// `ORCPT=` as received (`addr-type;xtext`), when given.
        public var orcpt: String?
        /// The ESMTP parameters of the transaction.
        public var parameters: Parameters

        /// Creates an envelope.
        public init(mailFrom: String, recipient: String, owner: String, orcpt: String? = nil, parameters: Parameters = Parameters()) {
            self.mailFrom = mailFrom
            self.recipient = recipient
            self.owner = owner
            self.orcpt = orcpt
            self.parameters = parameters
        }
    }

    /// The ESMTP parameters of the transaction that a processor may care about.
    public struct Parameters: Sendable, Hashable, Codable {
        /// `BODY=`: `7BIT` or `8BITMIME`.
        public var body: String?
        /// Whether `SMTPUTF8` was given.
        public var smtputf8: Bool
        /// `RET=`: `FULL` or `HDRS`.
        public var ret: String?
        /// `ENVID=`, xtext-decoded.
        public var envid: String?
        /// The recipient's `NOTIFY=` keywords (`SUCCESS`, `FAILURE`, `DELAY`, or `NEVER`).
        public var notify: [String]?

        /// Creates parameters; all absent by default.
        public init(body: String? = nil, smtputf8: Bool = false, ret: String? = nil, envid: String? = nil, notify: [String]? = nil) {
            self.body = body
            self.smtputf8 = smtputf8
            self.ret = ret
            self.envid = envid
            self.notify = notify
        }
    }

    /// The original SMTP client.
    public struct Client: Sendable, Hashable, Codable {
        /// Its host name, when known.
        public var name: String?
        /// Its address (an IPv6 address keeps its `IPV6:` prefix), when known.
        public var address: String?
        /// Its `HELO`/`EHLO` argument, when known.
        public var helo: String?
        /// `SMTP` or `ESMTP`, when known.
        public var `protocol`: String?

        /// Creates client information; everything unknown by default.
        public init(name: String? = nil, address: String? = nil, helo: String? = nil, protocol: String? = nil) {
            self.name = name
            self.address = address
            self.helo = helo
            self.protocol = `protocol`
        }
    }
}
