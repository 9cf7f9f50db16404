import Foundation

/// The encodings a message written by filterd needs, the inverse of the MIME view's decoders:
/// folded header fields, RFC 2047 encoded-words, RFC 2231 parameters, quoted-printable and
/// base64 bodies. Every line ends in CRLF.
///
/// - SeeAlso: RFC 5322 §2.1.1 and §2.2.3 (line length, folding), RFC 2045 §6.7 and §6.8,
///   RFC 2047, RFC 2231.
public enum MIMEWriter {
    /// The line length header fields are folded to where possible, in octets without the CRLF
    /// (RFC 5322 §2.1.1 "SHOULD be no more than 78").
    public static let preferredLineLength = 78
    /// The longest line allowed, in octets without the CRLF (RFC 5322 §2.1.1 "MUST be no more
    /// than 998").
    public static let maximumLineLength = 998
    /// The longest encoded-word, in characters (RFC 2047 §2).
    public static let maximumEncodedWordLength = 75
    /// The longest line of a quoted-printable or base64 body, in characters (RFC 2045 §6.7, §6.8).
    public static let maximumBodyLineLength = 76

    private static let crlf = "\r\n"
    private static let hexDigits = Array("0123456789ABCDEF".utf8)

    // MARK: - Header fields

    /// `Name: pieces` folded: the pieces are joined by single spaces, and a line is broken
    /// before a piece (the space starts the continuation line) when it would otherwise pass
    /// ``preferredLineLength``. A piece longer than a line stays whole. Ends in CRLF.
    ///
    /// - Parameters:
    ///   - name: the field name.
    ///   - pieces: the value's unbreakable parts, each without leading or trailing folding
    ///     white space (a piece may start with extra spaces that belong to the value).
    public static func field(_ name: String, pieces: [String]) -> String {
        var output = ""
        var line = name + ":"
        for (position, piece) in pieces.enumerated() {
            if position > 0, line.utf8.count + 1 + piece.utf8.count > preferredLineLength {
                output += line + crlf
                line = ""
            }
            line += " " + piece
        }
        return output + line + crlf
    }

    /// An unstructured field (`Subject`, `Comments`, an `X-` field): plain, folded at spaces,
    /// when `text` is printable US-ASCII whose words fit a line of ``maximumLineLength``;
    /// otherwise RFC 2047 encoded-words. Ends in CRLF.
    ///
    /// - Parameter encodingLookalikes: also encode ASCII text holding `=?`, which a reader could
    ///   take for an encoded-word (right for a subject); `false` keeps such text as it is (for
    ///   fields that may be structured, where encoded-words are not allowed).
    public static func unstructuredField(_ name: String, _ text: String, encodingLookalikes: Bool = true) -> String {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        let words = trimmed.split(separator: " ", omittingEmptySubsequences: false)
        let printable = trimmed.unicodeScalars.allSatisfy { (32...126).contains($0.value) }
        if printable, !(encodingLookalikes && trimmed.contains("=?")),
            words.allSatisfy({ $0.utf8.count <= maximumLineLength - name.utf8.count - 2 })
        {
            return field(name, pieces: plainPieces(words))
        }
        return field(name, pieces: encodedWords(trimmed, firstRoom: preferredLineLength - name.utf8.count - 2))
    }

    /// An address field (`From`, `To`, `Cc`, `Reply-To`): `Name <address>` for each mailbox
    /// with a display name, separated by commas; display names are written as atoms, a quoted
    /// string, or RFC 2047 encoded-words (RFC 2047 §5(3)), as each needs. Ends in CRLF.
    /// The addresses must already be valid (``DeliveryAddress/isValid(_:)``).
    public static func addressField(_ name: String, _ mailboxes: [MailboxAddress]) -> String {
        var pieces: [String] = []
        for (position, mailbox) in mailboxes.enumerated() {
            var mailboxPieces: [String]
            if let displayName = mailbox.displayName?.trimmingCharacters(in: .whitespaces), !displayName.isEmpty {
                let room = position == 0 ? preferredLineLength - name.utf8.count - 2 : maximumEncodedWordLength
                mailboxPieces = phrase(displayName, firstRoom: room) + ["<\(mailbox.address)>"]
            } else {
                mailboxPieces = [mailbox.address]
            }
            if position < mailboxes.count - 1 { mailboxPieces[mailboxPieces.count - 1] += "," }
            pieces += mailboxPieces
        }
        return field(name, pieces: pieces)
    }

    /// A display name as RFC 5322 `phrase` pieces: atoms when every word is `atext`, a quoted
    /// string for other printable ASCII, encoded-words for anything else.
    static func phrase(_ text: String, firstRoom: Int) -> [String] {
        let atext = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$%&'*+-/=?^_`{|}~".unicodeScalars)
        guard isPlainHeaderText(text) else { return encodedWords(text, firstRoom: firstRoom) }
        let words = text.split(separator: " ")
        if words.allSatisfy({ $0.unicodeScalars.allSatisfy(atext.contains) }) { return words.map(String.init) }
        let escaped = words.joined(separator: " ").replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
        return ["\"\(escaped)\""]
    }

    /// Printable US-ASCII and spaces, with no `=?` a reader could take for an encoded-word.
    static func isPlainHeaderText(_ text: String) -> Bool {
        text.unicodeScalars.allSatisfy { (32...126).contains($0.value) } && !text.contains("=?")
    }

    /// Words of unstructured text as pieces: runs of several spaces stay in the value by
    /// going in front of the next word.
    private static func plainPieces(_ words: [Substring]) -> [String] {
        var pieces: [String] = []
        var extraSpaces = ""
        for word in words {
            if word.isEmpty, !pieces.isEmpty {
                extraSpaces += " "
                continue
            }
            pieces.append(extraSpaces + word)
            extraSpaces = ""
        }
        return pieces
    }

    /// `text` as RFC 2047 `B` encoded-words in UTF-8, each of whole characters and at most
    /// ``maximumEncodedWordLength`` characters long; the first at most `firstRoom` long when
    /// that leaves room for a character, so that it fits behind the field name.
    public static func encodedWords(_ text: String, firstRoom: Int = maximumEncodedWordLength) -> [String] {
        let overhead = "=?UTF-8?B??=".utf8.count
        func capacity(_ room: Int) -> Int { (min(room, maximumEncodedWordLength) - overhead) / 4 * 3 }
        let fullCapacity = capacity(maximumEncodedWordLength)
        var limit = capacity(firstRoom) >= 4 ? capacity(firstRoom) : fullCapacity
        var words: [String] = []
        var chunk: [UInt8] = []
        func emit() {
            words.append("=?UTF-8?B?\(Data(chunk).base64EncodedString())?=")
            chunk = []
            limit = fullCapacity
        }
        for character in text {
            let characterBytes = Array(String(character).utf8)
            // A character longer than a word (a long run of combining marks) is split between
            // scalars: readers join adjacent words' bytes before decoding them.
            let units = characterBytes.count <= fullCapacity ? [characterBytes] : character.unicodeScalars.map { Array(String($0).utf8) }
            for unit in units {
                if chunk.count + unit.count > limit, !chunk.isEmpty { emit() }
                chunk += unit
            }
        }
        if !chunk.isEmpty || words.isEmpty { emit() }
        return words
    }

    /// A `Content-Type` or `Content-Disposition` parameter as pieces: `name="value"` when the
    /// value is printable US-ASCII and short, else RFC 2231 `name*=utf-8''…` percent-encoded,
    /// continued as `name*0*=`, `name*1*=`, … over several pieces when it does not fit a line.
    public static func parameter(_ name: String, _ value: String) -> [String] {
        let quoted = "\(name)=\"\(value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\""))\""
        if isPlainHeaderText(value), quoted.utf8.count <= maximumBodyLineLength - 2 { return [quoted] }
        let attributeCharacters = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$&+-.^_`|~".utf8)
        var escapes: [String] = []
        for byte in value.utf8 {
            if attributeCharacters.contains(byte) {
                escapes.append(String(UnicodeScalar(byte)))
            } else {
                escapes.append("%" + String(decoding: [hexDigits[Int(byte >> 4)], hexDigits[Int(byte & 15)]], as: UTF8.self))
            }
        }
        let single = "\(name)*=utf-8''" + escapes.joined()
        if single.utf8.count <= maximumBodyLineLength - 2 { return [single] }
        var pieces: [String] = []
        var segment = "\(name)*0*=utf-8''"
        for escape in escapes {
            if segment.utf8.count + escape.utf8.count > maximumBodyLineLength - 2 {
                pieces.append(segment)
                segment = "\(name)*\(pieces.count)*="
            }
            segment += escape
        }
        pieces.append(segment)
        return pieces
    }

    // MARK: - Bodies

    /// Quoted-printable (RFC 2045 §6.7) of lines given without their line ends: encoded lines
    /// stay within ``maximumBodyLineLength`` characters by soft line breaks; a space or tab at
    /// the end of a line is encoded, so transports that strip trailing white space lose nothing.
    public static func quotedPrintable<Line: Collection<UInt8>>(lines: some Sequence<Line>) -> [UInt8] {
        var output: [UInt8] = []
        for line in lines {
            var column = 0
            var position = 0
            let count = line.count
            for byte in line {
                position += 1
                let isLast = position == count
                let literal =
                    (byte >= 0x21 && byte <= 0x7E && byte != UInt8(ascii: "="))
                    || ((byte == 0x20 || byte == 0x09) && !isLast)
                if column + (literal ? 1 : 3) > maximumBodyLineLength - 1 {
                    output += [UInt8(ascii: "="), 0x0D, 0x0A]
                    column = 0
                }
                if literal {
                    output.append(byte)
                    column += 1
                } else {
                    output += [UInt8(ascii: "="), hexDigits[Int(byte >> 4)], hexDigits[Int(byte & 0x0F)]]
                    column += 3
                }
            }
            output += [0x0D, 0x0A]
        }
        return output
    }

    /// Quoted-printable of `text` in UTF-8; CRLF, CR and LF all end a line.
    public static func quotedPrintable(text: String) -> [UInt8] {
        quotedPrintable(lines: lines(of: text))
    }

    /// The lines of `text` in UTF-8, split at CRLF, CR or LF.
    static func lines(of text: String) -> [[UInt8]] {
        var lines: [[UInt8]] = []
        var line: [UInt8] = []
        var previousWasCR = false
        for byte in text.utf8 {
            if byte == 0x0A, previousWasCR {
                previousWasCR = false
                continue
            }
            previousWasCR = byte == 0x0D
            if byte == 0x0A || byte == 0x0D {
                lines.append(line)
                line = []
            } else {
                line.append(byte)
            }
        }
        lines.append(line)
        return lines
    }

    /// Base64 (RFC 2045 §6.8) in lines of ``maximumBodyLineLength`` characters, each ending in CRLF.
    public static func base64(_ bytes: [UInt8]) -> [UInt8] {
        let encoded = Array(Data(bytes).base64EncodedString().utf8)
        var output: [UInt8] = []
        output.reserveCapacity(encoded.count + encoded.count / maximumBodyLineLength * 2 + 2)
        var start = 0
        while start < encoded.count {
            let end = min(start + maximumBodyLineLength, encoded.count)
            output += encoded[start..<end]
            output += [0x0D, 0x0A]
            start = end
        }
        return output
    }
}
