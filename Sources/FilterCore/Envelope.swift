import Foundation

/// The SMTP envelope of one accepted message: who sent it, to whom, with which ESMTP
/// parameters, and what Postfix told us (through XFORWARD) about the original client.
///
/// Addresses are kept exactly as they appeared in the SMTP dialogue (without the angle
/// brackets). The null reverse-path `<>` is the empty string.
public struct Envelope: Sendable, Hashable, Codable {
    /// The reverse-path of `MAIL FROM`; empty for the null sender (`<>`).
    public var mailFrom: String
    /// The `MAIL FROM` parameters this filter understands (RFC 1870, 6152, 6531, 3461).
    public var parameters: MailParameters
    /// The forward-paths of the accepted `RCPT TO` commands, in order.
    public var recipients: [EnvelopeRecipient]
    /// The original client as described by XFORWARD, if the peer sent it.
    public var client: ClientInfo
    /// The `EHLO`/`HELO` name of the peer that handed the message to us (normally Postfix).
    public var peerHelo: String?
    /// The address of the peer that handed the message to us.
    public var peerAddress: String?

    /// Creates an envelope.
    public init(
        mailFrom: String,
        parameters: MailParameters = MailParameters(),
        recipients: [EnvelopeRecipient] = [],
        client: ClientInfo = ClientInfo(),
        peerHelo: String? = nil,
        peerAddress: String? = nil
    ) {
        self.mailFrom = mailFrom
        self.parameters = parameters
        self.recipients = recipients
        self.client = client
        self.peerHelo = peerHelo
        self.peerAddress = peerAddress
    }

    /// Whether this is a bounce or other notification sent with the null reverse-path.
    public var hasNullSender: Bool { mailFrom.isEmpty }
}

/// The `MAIL FROM` parameters the filter keeps and passes on to the next hop.
public struct MailParameters: Sendable, Hashable, Codable {
    /// `SIZE=` (RFC 1870): the size the client declared, in octets.
    public var size: Int?
    /// `BODY=` (RFC 6152): `7BIT` or `8BITMIME`.
    public var body: BodyType?
    /// `SMTPUTF8` (RFC 6531): the message needs internationalized addresses or headers.
    public var smtpUTF8: Bool
    /// `RET=` (RFC 3461): what a DSN should return of the message.
    public var ret: DSNReturn?
    /// `ENVID=` (RFC 3461), still xtext-encoded as received.
    public var envelopeID: String?

    /// Creates a parameter set; every parameter is absent by default.
    public init(
        size: Int? = nil,
        body: BodyType? = nil,
        smtpUTF8: Bool = false,
        ret: DSNReturn? = nil,
        envelopeID: String? = nil
    ) {
        self.size = size
        self.body = body
        self.smtpUTF8 = smtpUTF8
        self.ret = ret
        self.envelopeID = envelopeID
    }
}

/// The `BODY=` parameter value (RFC 6152).
public struct BodyType: RawRepresentable, Sendable, Hashable, Codable {
    public var rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue.uppercased() }
    /// `BODY=7BIT`.
    public static let sevenBit = BodyType(rawValue: "7BIT")
    /// `BODY=8BITMIME`.
    public static let eightBitMIME = BodyType(rawValue: "8BITMIME")
}

/// The `RET=` parameter value (RFC 3461 §4.3).
public struct DSNReturn: RawRepresentable, Sendable, Hashable, Codable {
    public var rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue.uppercased() }
    /// Return the full message in a DSN.
    public static let full = DSNReturn(rawValue: "FULL")
    /// Return only the headers in a DSN.
    public static let headers = DSNReturn(rawValue: "HDRS")
}

/// The `NOTIFY=` parameter of one recipient (RFC 3461 §4.1).
public struct DSNNotify: OptionSet, Sendable, Hashable, Codable {
    public var rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }
    /// `SUCCESS`: report successful delivery.
    public static let success = DSNNotify(rawValue: 1 << 0)
    /// `FAILURE`: report failed delivery.
    public static let failure = DSNNotify(rawValue: 1 << 1)
    /// `DELAY`: report delayed delivery.
    public static let delay = DSNNotify(rawValue: 1 << 2)
    /// `NEVER` is the empty set: no DSN at all, ever.
    public static let never: DSNNotify = []

    /// The keywords as written in `NOTIFY=`: `["NEVER"]`, or some of `SUCCESS`, `FAILURE` and
    /// `DELAY` in that order.
    public var keywords: [String] {
        guard self != .never else { return ["NEVER"] }
        var words: [String] = []
        if contains(.success) { words.append("SUCCESS") }
        if contains(.failure) { words.append("FAILURE") }
        if contains(.delay) { words.append("DELAY") }
        return words
    }

    /// Reads `NOTIFY=` keywords, case-insensitively; `nil` for an unknown keyword or `NEVER`
    /// combined with others (RFC 3461 §4.1).
    public init?(keywords: some Sequence<some StringProtocol>) {
        let words = keywords.map { $0.uppercased() }
        if words == ["NEVER"] {
            self = .never
            return
        }
        var notify: DSNNotify = []
        for word in words {
            switch word {
            case "SUCCESS": notify.insert(.success)
            case "FAILURE": notify.insert(.failure)
            case "DELAY": notify.insert(.delay)
            default: return nil
            }
        }
        self = notify
    }
}

/// One recipient of the envelope with its DSN parameters.
public struct EnvelopeRecipient: Sendable, Hashable, Codable {
    /// The forward-path of `RCPT TO`, without angle brackets.
    public var address: String
    /// `NOTIFY=`; `nil` when absent (the MTA default: failures and delays are reported).
    public var notify: DSNNotify?
    /// `ORCPT=` as received: `addr-type;xtext` (for example `rfc822;a+2Bb@example.com`).
    public var originalRecipient: String?

    /// Creates a recipient.
    public init(address: String, notify: DSNNotify? = nil, originalRecipient: String? = nil) {
        self.address = address
        self.notify = notify
        self.originalRecipient = originalRecipient
    }

    /// Whether a failure of this recipient may be reported with a DSN (RFC 3461 §4.1):
    /// `NOTIFY=NEVER` or a `NOTIFY` list without `FAILURE` forbids it.
    public var wantsFailureNotice: Bool { notify.map { $0.contains(.failure) } ?? true }
}

/// What XFORWARD (Postfix XFORWARD_README) said about the original SMTP client.
///
/// Values are xtext-decoded. `nil` means the attribute was not sent or was `[UNAVAILABLE]`;
/// `[TEMPUNAVAIL]` is kept as that literal text so the next hop sees the same thing.
public struct ClientInfo: Sendable, Hashable, Codable {
    /// `NAME`: the client host name (or `[UNAVAILABLE]`).
    public var name: String?
    /// `ADDR`: the client address, an IPv6 address keeps its `IPV6:` prefix.
    public var address: String?
    /// `PORT`: the client TCP port.
    public var port: String?
    /// `PROTO`: `SMTP` or `ESMTP`.
    public var proto: String?
    /// `HELO`: the client's HELO/EHLO argument.
    public var helo: String?
    /// `IDENT`: the local queue id at the originating MTA.
    public var ident: String?
    /// `SOURCE`: `LOCAL` or `REMOTE`.
    public var source: String?

    /// Creates client information; everything unknown by default.
    public init(
        name: String? = nil, address: String? = nil, port: String? = nil, proto: String? = nil,
        helo: String? = nil, ident: String? = nil, source: String? = nil
    ) {
        self.name = name
        self.address = address
        self.port = port
        self.proto = proto
        self.helo = helo
        self.ident = ident
        self.source = source
    }

    /// Whether no attribute is known.
    public var isEmpty: Bool {
        name == nil && address == nil && port == nil && proto == nil && helo == nil && ident == nil
            && source == nil
    }
}
