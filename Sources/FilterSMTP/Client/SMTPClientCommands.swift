import FilterCore

/// The command lines of an outbound transaction, without CRLF, as the next hop's extensions
/// allow them.
enum SMTPClientCommands {
    /// The longest command line, in octets including CRLF (RFC 5321 §4.5.3.1.4). Postfix's
    /// `smtpd` also enforces it for XFORWARD, so long attribute lists are split.
    static let maximumCommandLineLength = 512

    /// XFORWARD lines with every attribute of `client` the server accepts, xtext-encoded
    /// (Postfix XFORWARD_README). Unknown attributes are omitted, not sent as `[UNAVAILABLE]`;
    /// an attribute too long for a line of its own is dropped and reported in `dropped`.
    static func xforward(
        _ client: ClientInfo,
        accepted: Set<String>
    ) -> (lines: [String], dropped: [String]) {
        let attributes: [(String, String?)] = [
            ("NAME", client.name), ("ADDR", client.address), ("PORT", client.port),
            ("PROTO", client.proto), ("HELO", client.helo), ("IDENT", client.ident),
            ("SOURCE", client.source),
        ]
        let verb = "XFORWARD"
        let limit = maximumCommandLineLength - 2
        var lines: [String] = []
        var dropped: [String] = []
        var current = verb
        for (name, value) in attributes {
            guard let value, accepted.contains(name) else { continue }
            let item = " \(name)=\(XText.encode(value))"
            guard verb.utf8.count + item.utf8.count <= limit else {
                dropped.append(name)
                continue
            }
            if current.utf8.count + item.utf8.count > limit {
                lines.append(current)
                current = verb
            }
            current += item
        }
        if current != verb { lines.append(current) }
        return (lines, dropped)
    }

    /// `MAIL FROM:<reverse-path>` with `SIZE` (RFC 1870), `BODY` (RFC 6152), `SMTPUTF8`
    /// (RFC 6531), `RET` and `ENVID` (RFC 3461), each only when the server offers it.
    static func mailFrom(
        _ reversePath: String,
        parameters: MailParameters,
        size: Int,
        capabilities: ESMTPCapabilities
    ) -> String {
        var line = "MAIL FROM:<\(reversePath)>"
        if capabilities.supportsSize { line += " SIZE=\(size)" }
        if let body = parameters.body, capabilities.supports8BitMIME { line += " BODY=\(body.rawValue)" }
        if parameters.smtpUTF8, capabilities.supportsSMTPUTF8 { line += " SMTPUTF8" }
        if capabilities.supportsDSN {
            if let ret = parameters.ret { line += " RET=\(ret.rawValue)" }
            if let envelopeID = parameters.envelopeID { line += " ENVID=\(envelopeID)" }
        }
        return line
    }

    /// `RCPT TO:<forward-path>` with `NOTIFY` and `ORCPT` (RFC 3461 §4.1, §4.2) when the server
    /// offers DSN.
    static func rcptTo(_ recipient: EnvelopeRecipient, capabilities: ESMTPCapabilities) -> String {
        var line = "RCPT TO:<\(recipient.address)>"
        guard capabilities.supportsDSN else { return line }
        if let notify = recipient.notify { line += " NOTIFY=\(notifyValue(notify))" }
        if let original = recipient.originalRecipient { line += " ORCPT=\(original)" }
        return line
    }

    /// Throws when a line could end early or smuggle a second command: addresses and
    /// parameters come from the network and must never carry CR, LF or NUL.
    static func validate(_ line: String) throws {
        guard line.utf8.contains(where: { $0 == 0x0D || $0 == 0x0A || $0 == 0 }) else { return }
        let verb = line.prefix { $0 != " " && $0 != ":" }
        throw SMTPClientError(.invalidArgument, "\(verb) argument contains a line break or NUL")
    }

    private static func notifyValue(_ notify: DSNNotify) -> String {
        notify.keywords.joined(separator: ",")
    }
}
