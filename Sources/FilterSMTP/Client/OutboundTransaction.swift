import FilterCore
import NIOCore

/// Where the content of an outbound message comes from.
public enum OutboundContent: Sendable, Hashable {
    /// A file (normally the spool's copy of the message) from `offset` on, read in chunks while
    /// it is sent so a large message never sits in memory whole. A non-zero offset skips a
    /// header section that ``OutboundTransaction/headerPrefix`` replaces.
    case file(path: String, offset: Int = 0)
    /// Bytes in memory (small messages, DSNs, tests).
    case bytes(ByteBuffer)
}

/// One mail transaction for the next hop: envelope, original client and content.
public struct OutboundTransaction: Sendable, Hashable {
    /// The reverse-path for `MAIL FROM`, without angle brackets; empty for the null sender.
    public var mailFrom: String
    /// The `MAIL FROM` parameters; each is sent only when the next hop offers its extension,
    /// except `SIZE`, which is computed from the content.
    public var parameters: MailParameters
    /// The recipients, in the order `RCPT TO` is sent.
    public var recipients: [EnvelopeRecipient]
    /// The original client, passed on with XFORWARD when the next hop allows it.
    public var client: ClientInfo
    /// Bytes sent before the content, such as the filter's `Received` and verdict headers.
    /// Line ends are canonicalized like the content.
    public var headerPrefix: ByteBuffer
    /// The message itself.
    public var content: OutboundContent

    /// Creates a transaction.
    public init(
        mailFrom: String,
        parameters: MailParameters = MailParameters(),
        recipients: [EnvelopeRecipient],
        client: ClientInfo = ClientInfo(),
        headerPrefix: ByteBuffer = ByteBuffer(),
        content: OutboundContent
    ) {
        self.mailFrom = mailFrom
        self.parameters = parameters
        self.recipients = recipients
        self.client = client
        self.headerPrefix = headerPrefix
        self.content = content
    }

    /// Creates a transaction for an envelope as received, with a spool file as content.
    public init(envelope: Envelope, headerPrefix: ByteBuffer = ByteBuffer(), messageFile: String) {
        self.init(
            mailFrom: envelope.mailFrom,
            parameters: envelope.parameters,
            recipients: envelope.recipients,
            client: envelope.client,
            headerPrefix: headerPrefix,
            content: .file(path: messageFile)
        )
    }
}

/// The next hop's answer to one `RCPT TO`.
public struct RecipientReply: Sendable, Hashable {
    /// The recipient as sent.
    public var recipient: EnvelopeRecipient
    /// The reply to its `RCPT TO`.
    public var reply: SMTPReply

    /// Creates a recipient reply.
    public init(recipient: EnvelopeRecipient, reply: SMTPReply) {
        self.recipient = recipient
        self.reply = reply
    }

    /// Whether the next hop accepted the recipient (a 2yz reply, RFC 5321 §4.2.5).
    public var isAccepted: Bool { (200..<300).contains(reply.code) }
}

/// What the next hop said about a transaction it did not refuse as a whole.
public struct TransactionResult: Sendable, Hashable {
    /// One reply per recipient, in the order of ``OutboundTransaction/recipients``.
    public var recipients: [RecipientReply]
    /// The reply that ended the data phase: the reply to the final dot, or the refusal of the
    /// `DATA` command. `nil` when every recipient was refused, so no content was sent.
    public var dataReply: SMTPReply?

    /// Creates a result.
    public init(recipients: [RecipientReply], dataReply: SMTPReply?) {
        self.recipients = recipients
        self.dataReply = dataReply
    }

    /// The reply deciding the fate of one recipient: its `RCPT TO` refusal, or else the
    /// ``dataReply``. 2yz means delivered, 4yz retry, 5yz bounce.
    public func finalReply(forRecipientAt index: Int) -> SMTPReply {
        let recipient = recipients[index]
        guard recipient.isAccepted, let dataReply else { return recipient.reply }
        return dataReply
    }

    /// Whether the next hop took responsibility for the message for every recipient.
    public var isDeliveredToAll: Bool {
        recipients.indices.allSatisfy { (200..<300).contains(finalReply(forRecipientAt: $0).code) }
    }
}
