import NIOCore

/// An SMTP reply (RFC 5321 §4.2): a three-digit code, an optional enhanced status code
/// (RFC 3463, RFC 2034) and one or more lines of text.
public struct SMTPReply: Sendable, Hashable, CustomStringConvertible {
    /// The three-digit reply code, for example `250`.
    public var code: Int
    /// The enhanced status code, written before the text of every line when present.
    public var enhancedStatus: EnhancedStatusCode?
    /// The text lines, without codes and line ends. Never empty.
    public var lines: [String]

    /// Creates a reply.
    /// - Parameters:
    ///   - code: the three-digit reply code.
    ///   - enhancedStatus: the RFC 3463 status code, or `nil` (for greetings and EHLO).
    ///   - lines: the text lines; an empty array becomes one empty line.
    public init(code: Int, _ enhancedStatus: EnhancedStatusCode? = nil, lines: [String]) {
        self.code = code
        self.enhancedStatus = enhancedStatus
        self.lines = lines.isEmpty ? [""] : lines
    }

    /// Creates a single-line reply.
    public init(code: Int, _ enhancedStatus: EnhancedStatusCode? = nil, _ text: String) {
        self.init(code: code, enhancedStatus, lines: [text])
    }

    /// `2yz`: the command succeeded.
    public var isPositive: Bool { (200..<400).contains(code) }
    /// `4yz`: a temporary failure; the same command may succeed later.
    public var isTransientFailure: Bool { (400..<500).contains(code) }
    /// `5yz`: a permanent failure.
    public var isPermanentFailure: Bool { code >= 500 }

    /// The reply as one line of text, for logs and DSN diagnostics.
    public var description: String {
        let status = enhancedStatus.map { " \($0)" } ?? ""
        return "\(code)\(status) \(lines.joined(separator: " "))"
    }

    /// Writes the reply in wire form: `250-first` ... `250 last`, each line ending in CRLF.
    public func write(to buffer: inout ByteBuffer) {
        for (index, line) in lines.enumerated() {
            buffer.writeString(String(code))
            buffer.writeInteger(index == lines.count - 1 ? UInt8(ascii: " ") : UInt8(ascii: "-"))
            if let enhancedStatus {
                buffer.writeString(enhancedStatus.description)
                if !line.isEmpty { buffer.writeInteger(UInt8(ascii: " ")) }
            }
            buffer.writeString(Self.sanitized(line))
            buffer.writeStaticString("\r\n")
        }
    }

    /// Reply text must never contain a line break: it would let text end the reply early.
    private static func sanitized(_ line: String) -> String {
        guard line.utf8.contains(where: { $0 == 0x0D || $0 == 0x0A || $0 == 0 }) else { return line }
        return String(line.map { $0 == "\r" || $0 == "\n" || $0 == "\0" ? " " : $0 })
    }
}

/// An RFC 3463 enhanced mail system status code: `class.subject.detail`.
public struct EnhancedStatusCode: Sendable, Hashable, CustomStringConvertible {
    /// 2 (success), 4 (persistent transient failure) or 5 (permanent failure).
    public var statusClass: Int
    /// The subject (1 addressing, 2 mailbox, 3 mail system, 4 network and routing, 5 protocol,
    /// 6 content, 7 security).
    public var subject: Int
    /// The detail within the subject.
    public var detail: Int

    /// Creates a status code.
    public init(_ statusClass: Int, _ subject: Int, _ detail: Int) {
        self.statusClass = statusClass
        self.subject = subject
        self.detail = detail
    }

    /// Parses `X.Y.Z`; returns `nil` for anything else.
    public init?(_ text: some StringProtocol) {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, let c = Int(parts[0]), let s = Int(parts[1]), let d = Int(parts[2]),
            [2, 4, 5].contains(c), (0...999).contains(s), (0...999).contains(d)
        else { return nil }
        self.init(c, s, d)
    }

    public var description: String { "\(statusClass).\(subject).\(detail)" }
}
