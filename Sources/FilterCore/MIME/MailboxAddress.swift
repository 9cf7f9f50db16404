import Foundation

/// One mailbox from an address header (`From`, `To`, `Cc`, `Reply-To`, ...).
public struct MailboxAddress: Sendable, Hashable, CustomStringConvertible {
    /// The display name, RFC 2047 decoded (`Jörg Müller`), or `nil` when there is none. For the
    /// old form `jm@example.com (Jörg Müller)` the comment serves as the display name.
    public var displayName: String?
    /// The address as `local@domain`; a local part that needs quoting keeps its quotes
    /// (`"john doe"@example.com`), one that does not loses them. Case is kept as written.
    public var address: String

    /// Creates a mailbox.
    public init(displayName: String? = nil, address: String) {
        self.displayName = displayName
        self.address = address
    }

    /// `Name <address>` or `address`.
    public var description: String {
        displayName.map { "\($0) <\(address)>" } ?? address
    }

    /// Parses an RFC 5322 address list (§3.4): mailboxes, `Name <addr>`, groups
    /// (`Team: a@x, b@y;`, whose members are listed in place of the group), quoted local parts,
    /// comments, and RFC 2047 encoded display names. What does not parse is skipped up to the
    /// next comma and reported in `defects`.
    public static func parseList(_ rawValue: String, defects: inout [MIMEDefect], part: String = "", field: String = "address") -> [MailboxAddress] {
        var parser = AddressListParser(tokens: AddressToken.tokenize(Array(rawValue.utf8)), field: field, part: part)
        let list = parser.parseList()
        defects += parser.defects
        return list
    }
}

/// A lexical token of RFC 5322 structured header text.
struct AddressToken {
    enum Kind: Equatable {
        case atom
        case quoted
        case domainLiteral
        case comment
        case special(UInt8)
    }

    var kind: Kind
    var text: String
    /// Whether whitespace (or a comment) came before it, for joining display-name words.
    var spaced: Bool

    static func tokenize(_ bytes: [UInt8]) -> [AddressToken] {
        var tokens: [AddressToken] = []
        var index = 0
        var spaced = false
        while index < bytes.count {
            let byte = bytes[index]
            switch byte {
            case UInt8(ascii: " "), UInt8(ascii: "\t"), UInt8(ascii: "\r"), UInt8(ascii: "\n"):
                spaced = true
                index += 1
                continue
            case UInt8(ascii: "\""):
                let (text, next) = delimited(bytes, from: index + 1, close: UInt8(ascii: "\""))
                tokens.append(AddressToken(kind: .quoted, text: text, spaced: spaced))
                index = next
            case UInt8(ascii: "("):
                var depth = 1
                var output: [UInt8] = []
                index += 1
                while index < bytes.count {
                    let inner = bytes[index]
                    if inner == UInt8(ascii: "\\"), index + 1 < bytes.count {
                        index += 1
                        output.append(bytes[index])
                    } else if inner == UInt8(ascii: "(") {
                        depth += 1
                        output.append(inner)
                    } else if inner == UInt8(ascii: ")") {
                        depth -= 1
                        if depth == 0 {
                            index += 1
                            break
                        }
                        output.append(inner)
                    } else {
                        output.append(inner)
                    }
                    index += 1
                }
                tokens.append(AddressToken(kind: .comment, text: String(decoding: output, as: UTF8.self), spaced: spaced))
                spaced = true
                continue
            case UInt8(ascii: "["):
                let (text, next) = delimited(bytes, from: index + 1, close: UInt8(ascii: "]"))
                tokens.append(AddressToken(kind: .domainLiteral, text: "[" + text + "]", spaced: spaced))
                index = next
            case UInt8(ascii: "<"), UInt8(ascii: ">"), UInt8(ascii: ":"), UInt8(ascii: ";"), UInt8(ascii: "@"),
                UInt8(ascii: ","), UInt8(ascii: "."), UInt8(ascii: ")"), UInt8(ascii: "]"), UInt8(ascii: "\\"):
                tokens.append(AddressToken(kind: .special(byte), text: String(UnicodeScalar(byte)), spaced: spaced))
                index += 1
            default:
                let start = index
                while index < bytes.count, !isDelimiter(bytes[index]) { index += 1 }
                tokens.append(AddressToken(kind: .atom, text: String(decoding: bytes[start..<index], as: UTF8.self), spaced: spaced))
            }
            spaced = false
        }
        return tokens
    }

    private static func isDelimiter(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: " "), UInt8(ascii: "\t"), UInt8(ascii: "\r"), UInt8(ascii: "\n"), UInt8(ascii: "\""),
            UInt8(ascii: "("), UInt8(ascii: ")"), UInt8(ascii: "<"), UInt8(ascii: ">"), UInt8(ascii: "["),
            UInt8(ascii: "]"), UInt8(ascii: ":"), UInt8(ascii: ";"), UInt8(ascii: "@"), UInt8(ascii: ","),
            UInt8(ascii: "."), UInt8(ascii: "\\"):
            true
        default:
            false
        }
    }

    /// Text up to `close` with backslash escapes resolved; runs to the end when unterminated.
    private static func delimited(_ bytes: [UInt8], from start: Int, close: UInt8) -> (String, Int) {
        var output: [UInt8] = []
        var index = start
        while index < bytes.count, bytes[index] != close {
            if bytes[index] == UInt8(ascii: "\\"), index + 1 < bytes.count { index += 1 }
            output.append(bytes[index])
            index += 1
        }
        return (String(decoding: output, as: UTF8.self), min(index + 1, bytes.count))
    }
}

/// A recursive-descent reader of RFC 5322 §3.4 address lists over ``AddressToken``s.
struct AddressListParser {
    let tokens: [AddressToken]
    let field: String
    let part: String
    var index = 0
    var defects: [MIMEDefect] = []

    init(tokens: [AddressToken], field: String, part: String) {
        self.tokens = tokens
        self.field = field
        self.part = part
    }

    private var current: AddressToken.Kind? { index < tokens.count ? tokens[index].kind : nil }

    mutating func parseList() -> [MailboxAddress] {
        var list: [MailboxAddress] = []
        while index < tokens.count {
            if current == .special(UInt8(ascii: ",")) {
                index += 1
                continue
            }
            let before = index
            list += parseAddress(allowGroup: true)
            if index < tokens.count, current != .special(UInt8(ascii: ",")) {
                reportAndSkip("unexpected \"\(tokens[index].text)\"")
            }
            if index == before { index += 1 }
        }
        return list
    }

    private mutating func reportAndSkip(_ problem: String) {
        defects.append(MIMEDefect(.invalidAddress, "\(field): \(problem)", part: part))
        while index < tokens.count, current != .special(UInt8(ascii: ",")) { index += 1 }
    }

    /// A mailbox or (when allowed) a group; the words before `<`, `:` or `@` decide which.
    private mutating func parseAddress(allowGroup: Bool) -> [MailboxAddress] {
        let wordsStart = index
        var comments: [String] = []
        words: while let kind = current {
            switch kind {
            case .atom, .quoted, .special(UInt8(ascii: ".")): index += 1
            case .comment:
                comments.append(tokens[index].text)
                index += 1
            default: break words
            }
        }
        let words = tokens[wordsStart..<index].filter { $0.kind != .comment }
        switch current {
        case .special(UInt8(ascii: "<")):
            index += 1
            guard var mailbox = parseAngleAddress() else { return [] }
            mailbox.displayName = Self.phrase(words)
            return [mailbox]
        case .special(UInt8(ascii: ":")) where allowGroup:
            index += 1
            var members: [MailboxAddress] = []
            while let kind = current, kind != .special(UInt8(ascii: ";")) {
                if kind == .special(UInt8(ascii: ",")) {
                    index += 1
                    continue
                }
                let before = index
                members += parseAddress(allowGroup: false)
                if index == before {
                    defects.append(MIMEDefect(.invalidAddress, "\(field): unexpected \"\(tokens[index].text)\" in a group", part: part))
                    index += 1
                }
            }
            if current == nil {
                defects.append(MIMEDefect(.invalidAddress, "\(field): group without its closing ';'", part: part))
            } else {
                index += 1
            }
            return members
        case .special(UInt8(ascii: "@")):
            let local = Self.localPart(words)
            guard !local.isEmpty else {
                reportAndSkip("an address without a local part")
                return []
            }
            index += 1
            let domain = parseDomain(comments: &comments)
            let name = comments.last.flatMap { Self.phrase([AddressToken(kind: .quoted, text: $0, spaced: false)]) }
            if domain.isEmpty {
                defects.append(MIMEDefect(.invalidAddress, "\(field): \(local)@ has no domain", part: part))
            }
            return [MailboxAddress(displayName: name, address: local + "@" + domain)]
        default:
            guard !words.isEmpty else { return [] }
            let bare = Self.localPart(words)
            defects.append(MIMEDefect(.invalidAddress, "\(field): \(bare) has no domain", part: part))
            return [MailboxAddress(displayName: nil, address: bare)]
        }
    }

    /// `<addr-spec>` after the `<`, skipping an obsolete source route (`<@a,@b:user@host>`).
    private mutating func parseAngleAddress() -> MailboxAddress? {
        if current == .special(UInt8(ascii: "@")) {
            while let kind = current, kind != .special(UInt8(ascii: ":")), kind != .special(UInt8(ascii: ">")) { index += 1 }
            if current == .special(UInt8(ascii: ":")) { index += 1 }
        }
        var words: [AddressToken] = []
        while let kind = current, kind == .atom || kind == .quoted || kind == .special(UInt8(ascii: ".")) || kind == .comment {
            if kind != .comment { words.append(tokens[index]) }
            index += 1
        }
        var address = Self.localPart(words)
        if current == .special(UInt8(ascii: "@")) {
            index += 1
            var ignored: [String] = []
            address += "@" + parseDomain(comments: &ignored)
        } else if !address.isEmpty {
            defects.append(MIMEDefect(.invalidAddress, "\(field): <\(address)> has no domain", part: part))
        }
        if current == .special(UInt8(ascii: ">")) {
            index += 1
        } else {
            defects.append(MIMEDefect(.invalidAddress, "\(field): '<' without its '>'", part: part))
        }
        // `<>` is the null address: nothing to list.
        return address.isEmpty ? nil : MailboxAddress(address: address)
    }

    /// The domain after the `@`; comments in and after it are added to `comments`.
    private mutating func parseDomain(comments: inout [String]) -> String {
        var domain = ""
        while let kind = current {
            switch kind {
            case .atom, .special(UInt8(ascii: ".")), .domainLiteral: domain += tokens[index].text
            case .comment: comments.append(tokens[index].text)
            default: return domain
            }
            index += 1
        }
        return domain
    }

    /// Display-name words joined as written (one space where the source had whitespace), then
    /// RFC 2047 decoded, which also drops the space between adjacent encoded-words.
    private static func phrase(_ words: [AddressToken]) -> String? {
        var text = ""
        for word in words {
            if word.spaced, !text.isEmpty { text += " " }
            text += word.text
        }
        var ignored: [MIMEDefect] = []
        let decoded = EncodedWords.decode(text, defects: &ignored, part: "", context: "display name")
        let trimmed = decoded.trimmingCharacters(in: .whitespacesAndNewlines)
        return trimmed.isEmpty ? nil : trimmed
    }

    /// The local part without insignificant quotes; re-quoted when it is not a dot-atom.
    private static func localPart(_ words: [AddressToken]) -> String {
        let text = words.map(\.text).joined()
        let isDotAtom = !text.isEmpty && !text.hasPrefix(".") && !text.hasSuffix(".") && !text.contains("..")
            && text.utf8.allSatisfy { $0 >= 0x80 || isAtext($0) || $0 == UInt8(ascii: ".") }
        guard !isDotAtom, words.contains(where: { $0.kind == .quoted }) else { return text }
        var quoted = "\""
        for character in text.unicodeScalars {
            if character == "\"" || character == "\\" { quoted += "\\" }
            quoted.unicodeScalars.append(character)
        }
        return quoted + "\""
    }

    /// RFC 5322 §3.2.3 atext.
    private static func isAtext(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            true
        default:
            "!#$%&'*+-/=?^_`{|}~".utf8.contains(byte)
        }
    }
}
