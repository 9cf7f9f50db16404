import FilterCore
import NIOCore

/// Parses one SMTP command line (without its CRLF) into an ``SMTPCommand``.
///
/// The parser is pure: it knows nothing of the session. Checks that depend on the session
/// (order of commands, SMTPUTF8 declared, limits) belong to ``SMTPServerStateMachine``.
/// Every failure is an ``SMTPError`` carrying the reply to send.
public struct SMTPCommandParser: Sendable {
    /// The longest `ENVID` value accepted, in octets (RFC 3461 §4.4 says 100).
    public var maximumEnvelopeIDLength = 100
    /// The longest `ORCPT` value accepted, in octets (RFC 3461 §4.2 says 500).
    public var maximumOriginalRecipientLength = 500

    /// Creates a parser.
    public init() {}

    /// Parses a command line.
    /// - Parameter line: the bytes of the line, without the terminating CRLF.
    /// - Throws: ``SMTPError`` with the reply for a malformed or unknown command.
    public func parse(_ line: ByteBuffer) throws(SMTPError) -> SMTPCommand {
        try parse(Array(line.readableBytesView))
    }

    /// Parses a command line given as bytes, without the terminating CRLF.
    public func parse(_ line: [UInt8]) throws(SMTPError) -> SMTPCommand {
        if line.contains(0) {
            throw SMTPError(.nulByte, reply: SMTPReply(code: 500, .init(5, 5, 2), "Error: NUL character in command"))
        }
        let verbEnd = line.firstIndex(of: UInt8(ascii: " ")) ?? line.endIndex
        let verb = String(decoding: line[..<verbEnd], as: UTF8.self).uppercased()
        let argument = Array(line[min(verbEnd + 1, line.endIndex)...])
        switch verb {
        case "EHLO": return .ehlo(try domainArgument(argument, verb: verb))
        case "HELO": return .helo(try domainArgument(argument, verb: verb))
        case "MAIL": return .mail(try mailCommand(argument))
        case "RCPT": return .rcpt(try rcptCommand(argument))
        case "DATA": try noArgument(argument, verb: verb); return .data
        case "RSET": try noArgument(argument, verb: verb); return .rset
        case "QUIT": try noArgument(argument, verb: verb); return .quit
        case "NOOP": return .noop
        case "HELP": return .help
        case "VRFY":
            guard !argument.allSatisfy(Self.isSpace) else { throw syntax("Syntax: VRFY address") }
            return .vrfy(String(decoding: argument, as: UTF8.self))
        case "XFORWARD": return .xforward(try xforwardAttributes(argument))
        default:
            throw SMTPError(.unrecognizedCommand, reply: SMTPReply(code: 502, .init(5, 5, 2), "Error: command not recognized"))
        }
    }

    // MARK: - Commands

    private func domainArgument(_ argument: [UInt8], verb: String) throws(SMTPError) -> String {
        let text = trimmed(argument)
        guard !text.isEmpty, !text.contains(where: { $0 < 0x21 || $0 == 0x7F }) else {
            throw syntax("Syntax: \(verb) hostname")
        }
        guard let name = String(validating: text, as: UTF8.self) else {
            throw syntax("Syntax: \(verb) hostname")
        }
        return name
    }

    private func noArgument(_ argument: [UInt8], verb: String) throws(SMTPError) {
        guard argument.allSatisfy(Self.isSpace) else { throw syntax("Syntax: \(verb)") }
    }

    private func mailCommand(_ argument: [UInt8]) throws(SMTPError) -> MailCommand {
        let (path, parameters) = try pathAndParameters(argument, keyword: "FROM:", usage: "Syntax: MAIL FROM:<address>")
        let reversePath = try mailbox(path, allowNull: true, badStatus: .init(5, 1, 7), role: "sender")
        var result = MailParameters()
        var seen = Set<String>()
        for (key, value) in parameters {
            guard seen.insert(key).inserted else { throw syntax("Error: duplicate \(key) parameter") }
            switch key {
            case "SIZE":
                guard let value, !value.isEmpty, value.count <= 20, value.allSatisfy(\.isASCIIDigit)
                else { throw syntax("Bad message size syntax") }
                // RFC 1870 allows 20 digits, more than Int holds: such a size is too big, not bad syntax.
                result.size = Int(value) ?? .max
            case "BODY":
                guard let value, ["7BIT", "8BITMIME"].contains(value.uppercased()) else {
                    throw syntax("Unsupported BODY parameter; 7BIT and 8BITMIME are offered")
                }
                result.body = BodyType(rawValue: value)
            case "SMTPUTF8":
                guard value == nil else { throw syntax("SMTPUTF8 takes no value") }
                result.smtpUTF8 = true
            case "RET":
                guard let value, ["FULL", "HDRS"].contains(value.uppercased()) else {
                    throw syntax("Bad RET parameter; FULL or HDRS")
                }
                result.ret = DSNReturn(rawValue: value)
            case "ENVID":
                guard let value, !value.isEmpty, value.utf8.count <= maximumEnvelopeIDLength, XText.decode(value) != nil
                else { throw syntax("Bad ENVID parameter syntax") }
                result.envelopeID = value
            default:
                throw unsupported(key)
            }
        }
        return MailCommand(reversePath: reversePath, parameters: result)
    }

    private func rcptCommand(_ argument: [UInt8]) throws(SMTPError) -> EnvelopeRecipient {
        let (path, parameters) = try pathAndParameters(argument, keyword: "TO:", usage: "Syntax: RCPT TO:<address>")
        let forwardPath = try mailbox(path, allowNull: false, badStatus: .init(5, 1, 3), role: "recipient")
        var recipient = EnvelopeRecipient(address: forwardPath)
        var seen = Set<String>()
        for (key, value) in parameters {
            guard seen.insert(key).inserted else { throw syntax("Error: duplicate \(key) parameter") }
            switch key {
            case "NOTIFY":
                guard let value, let notify = Self.notify(value) else {
                    throw syntax("Bad NOTIFY parameter; NEVER or SUCCESS, FAILURE, DELAY")
                }
                recipient.notify = notify
            case "ORCPT":
                guard let value, value.utf8.count <= maximumOriginalRecipientLength, Self.isValidOriginalRecipient(value)
                else { throw syntax("Bad ORCPT parameter syntax") }
                recipient.originalRecipient = value
            default:
                throw unsupported(key)
            }
        }
        return recipient
    }

    private func xforwardAttributes(_ argument: [UInt8]) throws(SMTPError) -> [XForwardAttribute] {
        let words = argument.split(separator: UInt8(ascii: " "))
        guard !words.isEmpty else { throw syntax("Syntax: XFORWARD attribute=value...") }
        var attributes: [XForwardAttribute] = []
        for word in words {
            guard let equals = word.firstIndex(of: UInt8(ascii: "=")) else {
                throw syntax("Syntax: XFORWARD attribute=value...")
            }
            let name = String(decoding: word[..<equals], as: UTF8.self).uppercased()
            guard XForwardAttribute.knownNames.contains(name) else {
                throw syntax("Error: bad XFORWARD attribute name: \(name.prefix(32))")
            }
            let raw = String(decoding: word[(equals + 1)...], as: UTF8.self)
            if raw.uppercased() == "[UNAVAILABLE]" {
                attributes.append(XForwardAttribute(name: name, value: nil))
                continue
            }
            guard let decoded = XText.decode(raw), !decoded.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F })
            else { throw syntax("Error: bad XFORWARD \(name) attribute value") }
            attributes.append(XForwardAttribute(name: name, value: decoded))
        }
        return attributes
    }

    // MARK: - Paths and parameters

    /// Splits `FROM:<path> KEY=VALUE ...` into the path (with brackets) and the parameters.
    private func pathAndParameters(
        _ argument: [UInt8], keyword: String, usage: String
    ) throws(SMTPError) -> (path: [UInt8], parameters: [(String, String?)]) {
        let keywordBytes = Array(keyword.utf8)
        guard argument.count >= keywordBytes.count,
            zip(argument, keywordBytes).allSatisfy({ Self.asciiUppercase($0) == $1 })
        else { throw syntax(usage) }
        var rest = argument[keywordBytes.count...].drop(while: Self.isSpace)
        guard rest.first == UInt8(ascii: "<"), let close = Self.closingBracket(in: rest) else { throw syntax(usage) }
        let path = Array(rest[...close])
        rest = rest[(close + 1)...]
        guard rest.isEmpty || rest.first == UInt8(ascii: " ") else { throw syntax(usage) }
        var parameters: [(String, String?)] = []
        for word in rest.split(separator: UInt8(ascii: " ")) {
            if let equals = word.firstIndex(of: UInt8(ascii: "=")) {
                let key = String(decoding: word[..<equals], as: UTF8.self).uppercased()
                parameters.append((key, String(decoding: word[(equals + 1)...], as: UTF8.self)))
            } else {
                parameters.append((String(decoding: word, as: UTF8.self).uppercased(), nil))
            }
        }
        return (path, parameters)
    }

    /// The index of the `>` that closes the path, skipping quoted strings in the local part.
    private static func closingBracket(in bytes: ArraySlice<UInt8>) -> Int? {
        var inQuotes = false
        var escaped = false
        for index in bytes.indices.dropFirst() {
            let byte = bytes[index]
            if escaped {
                escaped = false
            } else if inQuotes, byte == UInt8(ascii: "\\") {
                escaped = true
            } else if byte == UInt8(ascii: "\"") {
                inQuotes.toggle()
            } else if !inQuotes, byte == UInt8(ascii: ">") {
                return index
            }
        }
        return nil
    }

    /// Validates `<mailbox>`, `<@route:mailbox>` or (when allowed) `<>`; returns the mailbox.
    private func mailbox(
        _ path: [UInt8], allowNull: Bool, badStatus: EnhancedStatusCode, role: String
    ) throws(SMTPError) -> String {
        var inner = path.dropFirst().dropLast()
        let bad = SMTPError(.badAddress, reply: SMTPReply(code: 553, badStatus, "Error: bad \(role) address syntax"))
        if inner.isEmpty {
            guard allowNull else { throw bad }
            return ""
        }
        if inner.first == UInt8(ascii: "@") {
            // An obsolete source route (RFC 5321 §4.1.2, Appendix C): accepted and dropped.
            guard let colon = inner.firstIndex(of: UInt8(ascii: ":")) else { throw bad }
            inner = inner[(colon + 1)...]
        }
        guard !inner.contains(where: { $0 < 0x20 || $0 == 0x7F }),
            let address = String(validating: inner, as: UTF8.self),
            Self.isValidMailbox(Array(inner), allowBarePostmaster: !allowNull)
        else { throw bad }
        return address
    }

    /// RFC 5321 §4.1.2 `Mailbox`, with UTF-8 allowed in both parts (RFC 6531); the postmaster
    /// without a domain is allowed for recipients (RFC 5321 §4.5.1).
    private static func isValidMailbox(_ bytes: [UInt8], allowBarePostmaster: Bool) -> Bool {
        guard let at = bytes.lastIndex(of: UInt8(ascii: "@")) else {
            return allowBarePostmaster && String(decoding: bytes, as: UTF8.self).lowercased() == "postmaster"
        }
        let local = bytes[..<at]
        let domain = bytes[(at + 1)...]
        return isValidLocalPart(local) && isValidDomain(domain)
    }

    private static func isValidLocalPart(_ local: ArraySlice<UInt8>) -> Bool {
        guard !local.isEmpty, local.count <= 64 * 4 else { return false }
        if local.first == UInt8(ascii: "\"") {
            guard local.count >= 2, local.last == UInt8(ascii: "\"") else { return false }
            var escaped = false
            for byte in local.dropFirst().dropLast() {
                if escaped { escaped = false } else if byte == UInt8(ascii: "\\") { escaped = true } else if byte == UInt8(ascii: "\"") { return false }
            }
            return !escaped
        }
        // Dot-string: atoms separated by single dots.
        let atoms = local.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
        return atoms.allSatisfy { atom in !atom.isEmpty && atom.allSatisfy(isAtomText) }
    }

    private static func isValidDomain(_ domain: ArraySlice<UInt8>) -> Bool {
        guard !domain.isEmpty, domain.count <= 255 * 4 else { return false }
        if domain.first == UInt8(ascii: "[") {
            guard domain.last == UInt8(ascii: "]"), domain.count > 2 else { return false }
            return domain.dropFirst().dropLast().allSatisfy { $0 > 0x20 && $0 < 0x7F && $0 != UInt8(ascii: "[") && $0 != UInt8(ascii: "]") && $0 != UInt8(ascii: "\\") }
        }
        let labels = domain.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
        return labels.allSatisfy { label in
            !label.isEmpty && label.first != UInt8(ascii: "-") && label.last != UInt8(ascii: "-")
                && label.allSatisfy { $0 >= 0x80 || isLetterOrDigit($0) || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: "_") }
        }
    }

    /// RFC 5322 `atext`, plus any octet of a UTF-8 sequence (RFC 6531 `UTF8-non-ascii`).
    private static func isAtomText(_ byte: UInt8) -> Bool {
        if byte >= 0x80 || isLetterOrDigit(byte) { return true }
        return Array("!#$%&'*+-/=?^_`{|}~".utf8).contains(byte)
    }

    private static func isLetterOrDigit(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
            || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
    }

    private static func notify(_ value: String) -> DSNNotify? {
        DSNNotify(keywords: value.split(separator: ",", omittingEmptySubsequences: false))
    }

    /// `addr-type ";" xtext` (RFC 3461 §4.2); the address type is an atom such as `rfc822`.
    private static func isValidOriginalRecipient(_ value: String) -> Bool {
        guard let semicolon = value.firstIndex(of: ";") else { return false }
        let type = value[..<semicolon]
        let address = value[value.index(after: semicolon)...]
        return !type.isEmpty && type.utf8.allSatisfy { isLetterOrDigit($0) || $0 == UInt8(ascii: "-") }
            && !address.isEmpty && XText.decode(String(address)) != nil
    }

    // MARK: - Small helpers

    private func syntax(_ text: String) -> SMTPError {
        SMTPError(.syntaxError, reply: SMTPReply(code: 501, .init(5, 5, 4), text))
    }

    private func unsupported(_ key: String) -> SMTPError {
        SMTPError(.unsupportedParameter, reply: SMTPReply(code: 555, .init(5, 5, 4), "Unsupported option: \(key.prefix(32))"))
    }

    private func trimmed(_ bytes: [UInt8]) -> ArraySlice<UInt8> {
        guard let first = bytes.firstIndex(where: { !Self.isSpace($0) }),
            let last = bytes.lastIndex(where: { !Self.isSpace($0) })
        else { return [] }
        return bytes[first...last]
    }

    private static func isSpace(_ byte: UInt8) -> Bool { byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") }

    private static func asciiUppercase(_ byte: UInt8) -> UInt8 {
        (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) ? byte - 32 : byte
    }
}

extension Character {
    fileprivate var isASCIIDigit: Bool { isASCII && isNumber }
}
