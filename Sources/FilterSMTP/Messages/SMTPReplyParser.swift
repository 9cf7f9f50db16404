import NIOCore

/// An incremental parser for SMTP replies as a client receives them (RFC 5321 §4.2).
///
/// Feed it whatever bytes arrived; it consumes complete lines only and returns a reply once
/// the last line of a (possibly multi-line, `250-` ... `250 `) reply has arrived. Lines end in
/// CRLF; a bare LF is tolerated, as most clients do. An RFC 2034 enhanced status code at the
/// start of the text is moved into ``SMTPReply/enhancedStatus`` only when its class equals the
/// first digit of the reply code, so text such as `250 2.0.0 Ok` parses and `250 5.0 beers`
/// stays text.
public struct SMTPReplyParser: Sendable {
    /// Limits that keep a misbehaving server from making the client buffer without bound.
    public struct Limits: Sendable, Hashable {
        /// The longest reply line accepted, in octets including CRLF. Default 2048: RFC 5321
        /// §4.5.3.1.5 allows 512, but real servers send longer text, and 2048 is Postfix's
        /// `line_length_limit`.
        public var maximumLineLength: Int
        /// The most lines one reply may have. Default 128, ample for any EHLO reply.
        public var maximumLineCount: Int

        /// Creates limits with the documented defaults.
        public init(maximumLineLength: Int = 2048, maximumLineCount: Int = 128) {
            self.maximumLineLength = maximumLineLength
            self.maximumLineCount = maximumLineCount
        }
    }

    /// The limits in force.
    public let limits: Limits
    private var code: Int?
    private var lines: [String] = []

    /// Creates a parser.
    public init(limits: Limits = Limits()) {
        self.limits = limits
    }

    /// Consumes complete lines from `buffer` and returns the next complete reply, if any.
    ///
    /// Bytes of an incomplete line stay in `buffer`; lines of an incomplete multi-line reply are
    /// consumed and remembered. Call again (with more bytes) until it returns `nil`.
    /// - Throws: ``SMTPClientError`` with code ``SMTPClientError/Code/protocolViolation`` for a
    ///   line that is not a reply line, a continuation line with a different code, or a limit
    ///   exceeded. The connection cannot be trusted after that.
    public mutating func parse(_ buffer: inout ByteBuffer) throws -> SMTPReply? {
        while let lineFeed = buffer.readableBytesView.firstIndex(of: UInt8(ascii: "\n")) {
            let lineLength = lineFeed - buffer.readerIndex + 1
            guard lineLength <= limits.maximumLineLength else { throw Self.lineTooLong(limits) }
            var line = buffer.readSlice(length: lineLength)!
            line.moveWriterIndex(to: line.writerIndex - 1)
            if line.readableBytesView.last == UInt8(ascii: "\r") {
                line.moveWriterIndex(to: line.writerIndex - 1)
            }
            if let reply = try lineReceived(line) { return reply }
        }
        guard buffer.readableBytes < limits.maximumLineLength else { throw Self.lineTooLong(limits) }
        return nil
    }

    /// Whether part of a multi-line reply has been consumed and its last line is still missing.
    public var isInsideReply: Bool { code != nil }

    private mutating func lineReceived(_ line: ByteBuffer) throws -> SMTPReply? {
        let bytes = line.readableBytesView
        guard bytes.count >= 3 else { throw Self.malformed(line) }
        let digits = bytes.prefix(3).map { Int($0) - Int(UInt8(ascii: "0")) }
        guard (2...5).contains(digits[0]), (0...5).contains(digits[1]), (0...9).contains(digits[2])
        else { throw Self.malformed(line) }
        let lineCode = digits[0] * 100 + digits[1] * 10 + digits[2]

        let isLast: Bool
        let text: String
        if bytes.count == 3 {
            isLast = true
            text = ""
        } else {
            switch bytes[bytes.startIndex + 3] {
            case UInt8(ascii: " "): isLast = true
            case UInt8(ascii: "-"): isLast = false
            default: throw Self.malformed(line)
            }
            text = String(decoding: bytes.dropFirst(4), as: UTF8.self)
        }

        if let code, code != lineCode {
            throw SMTPClientError(
                .protocolViolation,
                "reply line with code \(lineCode) continues a reply with code \(code)"
            )
        }
        guard lines.count < limits.maximumLineCount else {
            throw SMTPClientError(
                .protocolViolation,
                "reply has more than \(limits.maximumLineCount) lines"
            )
        }
        code = lineCode
        lines.append(text)
        guard isLast else { return nil }

        let reply = Self.makeReply(code: lineCode, lines: lines)
        code = nil
        lines = []
        return reply
    }

    /// Moves an RFC 2034 status code out of the text when the first line carries one whose
    /// class matches the reply code; later lines repeat it (RFC 2034 §4) and lose it too.
    private static func makeReply(code: Int, lines: [String]) -> SMTPReply {
        let firstToken = lines[0].prefix { $0 != " " }
        guard let status = EnhancedStatusCode(firstToken), status.statusClass == code / 100 else {
            return SMTPReply(code: code, lines: lines)
        }
        let prefix = String(firstToken)
        let stripped = lines.map { line -> String in
            guard line.hasPrefix(prefix) else { return line }
            let rest = line.dropFirst(prefix.count)
            if rest.isEmpty { return "" }
            guard rest.first == " " else { return line }
            return String(rest.dropFirst())
        }
        return SMTPReply(code: code, status, lines: stripped)
    }

    private static func lineTooLong(_ limits: Limits) -> SMTPClientError {
        SMTPClientError(.protocolViolation, "reply line longer than \(limits.maximumLineLength) octets")
    }

    private static func malformed(_ line: ByteBuffer) -> SMTPClientError {
        let shown = line.readableBytesView.prefix(80).map { byte -> Character in
            (0x20...0x7E).contains(byte) ? Character(Unicode.Scalar(byte)) : "?"
        }
        return SMTPClientError(.protocolViolation, "malformed reply line: \"\(String(shown))\"")
    }
}
