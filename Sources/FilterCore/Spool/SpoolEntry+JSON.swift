import Foundation

/// The envelope file's JSON written by hand: the same bytes as the Codable conformances give
/// through `JSONEncoder` with sorted keys (the tests check this), several times faster. Reading
/// stays with `JSONDecoder` and the conformances.
extension SpoolEntry {
    /// Writes this entry's JSON object.
    /// - Throws: ``WireProtocolError`` when a recipient's reply cannot be written as JSON.
    func writeJSON(to writer: inout CompactJSONWriter) throws(WireProtocolError) {
        try writer.object { (writer: inout CompactJSONWriter) throws(WireProtocolError) in
            writer.field("attempts", attempts)
            writer.key("envelope")
            envelope.writeJSON(to: &writer)
            writer.field("messageSize", messageSize)
            writer.field("nextAttemptAt", nextAttemptAt)
            writer.field("queueID", queueID.rawValue)
            writer.field("receivedAt", receivedAt)
            writer.key("recipients")
            try writer.array(recipients) { (writer: inout CompactJSONWriter, recipient) throws(WireProtocolError) in
                try recipient.writeJSON(to: &writer)
            }
        }
    }
}

extension Envelope {
    func writeJSON(to writer: inout CompactJSONWriter) {
        writer.object { writer in
            writer.field("client", client) { writer, client in
                writer.field("address", client.address)
                writer.field("helo", client.helo)
                writer.field("ident", client.ident)
                writer.field("name", client.name)
                writer.field("port", client.port)
                writer.field("proto", client.proto)
                writer.field("source", client.source)
            }
            writer.field("mailFrom", mailFrom)
            writer.field("parameters", parameters) { writer, parameters in
                writer.field("body", parameters.body?.rawValue)
                writer.field("envelopeID", parameters.envelopeID)
                writer.field("ret", parameters.ret?.rawValue)
                writer.field("size", parameters.size)
                writer.field("smtpUTF8", parameters.smtpUTF8)
            }
            writer.field("peerAddress", peerAddress)
            writer.field("peerHelo", peerHelo)
            writer.key("recipients")
            writer.array(recipients) { writer, recipient in
                writer.object { writer in
                    writer.field("address", recipient.address)
                    writer.field("notify", recipient.notify.map { Int($0.rawValue) })
                    writer.field("originalRecipient", recipient.originalRecipient)
                }
            }
        }
    }
}

extension RecipientDelivery {
    func writeJSON(to writer: inout CompactJSONWriter) throws(WireProtocolError) {
        try writer.object { (writer: inout CompactJSONWriter) throws(WireProtocolError) in
            if let decision {
                writer.key("decision")
                try writer.object { (writer: inout CompactJSONWriter) throws(WireProtocolError) in
                    writer.field("action", decision.action.rawValue)
                    if let reply = decision.reply {
                        writer.key("reply")
                        writer.json(try reply.wireJSON())
                    }
                    writer.field("source", decision.source.rawValue)
                }
            }
            writer.field("delayReportedAt", delayReportedAt)
            writer.field("detail", detail)
            writer.field("heldSince", heldSince)
            writer.field("heldUntil", heldUntil)
            writer.field("requestID", requestID)
            writer.field("state", state) { writer, state in
                writer.field("final", state.isFinal)
                writer.field("name", state.name)
            }
            writer.field("updatedAt", updatedAt)
        }
    }
}
