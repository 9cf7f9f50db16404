import Foundation

extension FilterRequestMetadata {
    /// Builds the metadata of the request about one recipient of an accepted message, from
    /// what the server keeps: the SMTP envelope (with XFORWARD's client), the recipient and its
    /// canonical owner.
    ///
    /// `ENVID` is xtext-decoded (kept as received when it is not valid xtext, so nothing is
    /// lost); `NOTIFY` becomes its keywords in RFC 3461 order, `NEVER` for the empty set.
    ///
    /// - Parameters:
    ///   - requestID: The request id, recorded in the spool before publishing.
    ///   - queueID: The spool queue id of the message.
    ///   - received: When the server accepted the message.
    ///   - deadline: When the server stops waiting for the reply.
    ///   - envelope: The message's SMTP envelope.
    ///   - recipient: The recipient this request is about.
    ///   - owner: The recipient's canonical owner.
    ///   - size: The size of the whole message, in octets.
    ///   - truncated: Whether the request body was cut at `maxRequestBytes`.
    public init(
        requestID: String, queueID: QueueID, received: Date, deadline: Date, envelope: FilterCore.Envelope,
        recipient: EnvelopeRecipient, owner: String, size: Int, truncated: Bool
    ) {
        let parameters = envelope.parameters
        self.init(
            id: requestID, queueId: queueID.rawValue, received: received, deadline: deadline,
            envelope: Envelope(
                mailFrom: envelope.mailFrom, recipient: recipient.address, owner: owner,
                orcpt: recipient.originalRecipient,
                parameters: Parameters(
                    body: parameters.body?.rawValue, smtputf8: parameters.smtpUTF8, ret: parameters.ret?.rawValue,
                    envid: parameters.envelopeID.map { XText.decode($0) ?? $0 },
                    notify: recipient.notify?.keywords)),
            client: Client(
                name: envelope.client.name, address: envelope.client.address, helo: envelope.client.helo,
                protocol: envelope.client.proto),
            size: size, truncated: truncated)
    }
}
