import FilterCore

/// One SMTP command as received by the server (RFC 5321 §4.1, plus the extensions the filter
/// offers: SIZE, 8BITMIME, SMTPUTF8, DSN and Postfix's XFORWARD).
public enum SMTPCommand: Sendable, Hashable {
    /// `EHLO domain`.
    case ehlo(String)
    /// `HELO domain`.
    case helo(String)
    /// `MAIL FROM:<reverse-path> [parameters]`.
    case mail(MailCommand)
    /// `RCPT TO:<forward-path> [parameters]`.
    case rcpt(EnvelopeRecipient)
    /// `DATA`.
    case data
    /// `RSET`.
    case rset
    /// `NOOP [string]`.
    case noop
    /// `QUIT`.
    case quit
    /// `VRFY string`.
    case vrfy(String)
    /// `HELP [string]`.
    case help
    /// `XFORWARD attribute=value ...` (Postfix XFORWARD_README).
    case xforward([XForwardAttribute])
}

/// The arguments of `MAIL FROM`.
public struct MailCommand: Sendable, Hashable {
    /// The reverse-path without angle brackets; empty for `<>`.
    public var reversePath: String
    /// The ESMTP parameters.
    public var parameters: MailParameters

    /// Creates a `MAIL FROM` command.
    public init(reversePath: String, parameters: MailParameters = MailParameters()) {
        self.reversePath = reversePath
        self.parameters = parameters
    }
}

/// One `name=value` pair of an XFORWARD command.
public struct XForwardAttribute: Sendable, Hashable {
    /// The attribute name, upper case: NAME, ADDR, PORT, PROTO, HELO, IDENT or SOURCE.
    public var name: String
    /// The xtext-decoded value; `nil` for `[UNAVAILABLE]`.
    public var value: String?

    /// Creates an attribute.
    public init(name: String, value: String?) {
        self.name = name
        self.value = value
    }

    /// The attribute names Postfix defines; the server offers exactly these.
    public static let knownNames = ["NAME", "ADDR", "PORT", "PROTO", "HELO", "IDENT", "SOURCE"]
}

extension ClientInfo {
    /// Applies XFORWARD attributes; later values replace earlier ones.
    public mutating func apply(_ attributes: [XForwardAttribute]) {
        for attribute in attributes {
            switch attribute.name {
            case "NAME": name = attribute.value
            case "ADDR": address = attribute.value
            case "PORT": port = attribute.value
            case "PROTO": proto = attribute.value
            case "HELO": helo = attribute.value
            case "IDENT": ident = attribute.value
            case "SOURCE": source = attribute.value
            default: continue
            }
        }
    }
}
