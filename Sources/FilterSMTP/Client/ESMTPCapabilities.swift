/// The service extensions a server announced in its EHLO reply (RFC 5321 §4.1.1.1): one
/// keyword per line after the first, optionally followed by parameters.
public struct ESMTPCapabilities: Sendable, Hashable {
    /// The announced keywords, upper-cased, each with its parameters as sent.
    public var keywords: [String: [String]]

    /// Creates capabilities from keywords and parameters.
    public init(keywords: [String: [String]] = [:]) {
        self.keywords = keywords
    }

    /// Reads the keywords of an EHLO reply; the first line (the server's greeting) is skipped.
    public init(ehloReply: SMTPReply) {
        var keywords: [String: [String]] = [:]
        for line in ehloReply.lines.dropFirst() {
            let words = line.split(separator: " ", omittingEmptySubsequences: true)
            guard let keyword = words.first else { continue }
            keywords[keyword.uppercased()] = words.dropFirst().map(String.init)
        }
        self.init(keywords: keywords)
    }

    /// Whether the server announced `keyword` (case-insensitive).
    public func supports(_ keyword: String) -> Bool {
        keywords[keyword.uppercased()] != nil
    }

    /// `PIPELINING` (RFC 2920): commands may be sent in groups.
    public var supportsPipelining: Bool { supports("PIPELINING") }
    /// `SIZE` (RFC 1870).
    public var supportsSize: Bool { supports("SIZE") }
    /// `8BITMIME` (RFC 6152): the `BODY=` parameter.
    public var supports8BitMIME: Bool { supports("8BITMIME") }
    /// `SMTPUTF8` (RFC 6531).
    public var supportsSMTPUTF8: Bool { supports("SMTPUTF8") }
    /// `DSN` (RFC 3461): `RET`, `ENVID`, `NOTIFY` and `ORCPT`.
    public var supportsDSN: Bool { supports("DSN") }

    /// The XFORWARD attributes the server accepts (Postfix XFORWARD_README: `XFORWARD NAME ADDR
    /// ...`), upper-cased; empty when it does not offer XFORWARD to this client.
    public var xforwardAttributes: Set<String> {
        Set((keywords["XFORWARD"] ?? []).map { $0.uppercased() })
    }
}
