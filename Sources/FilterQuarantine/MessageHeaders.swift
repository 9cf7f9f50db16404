import Foundation

/// Reads a message's header section: enough to show it and to find its `Subject`.
public enum MessageHeaders {
    /// The header section of a message: everything before the first empty line (CRLF or LF
    /// line ends), decoded as UTF-8 with invalid bytes replaced.
    public static func headerSection(of message: some Collection<UInt8>) -> String {
        let text = String(decoding: message, as: UTF8.self)
        let end = text.range(of: "\r\n\r\n") ?? text.range(of: "\n\n")
        return String(end.map { text[..<$0.lowerBound] } ?? Substring(text))
    }

    /// The unfolded value of the first field called `name` (case-insensitive), without
    /// leading and trailing white space; `nil` when there is none.
    /// - SeeAlso: RFC 5322 §2.2.3 (folding).
    public static func value(of name: String, in headerSection: String) -> String? {
        var current: String?
        for line in headerSection.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" }) {
            let line = line.hasSuffix("\r") ? line.dropLast() : line
            if let first = line.first, first == " " || first == "\t" {
                if current != nil { current! += line }
                continue
            }
            if let current { return current.trimmingCharacters(in: .whitespaces) }
            guard let colon = line.firstIndex(of: ":"),
                line[..<colon].trimmingCharacters(in: .whitespaces).caseInsensitiveCompare(name) == .orderedSame
            else { continue }
            current = String(line[line.index(after: colon)...])
        }
        return current?.trimmingCharacters(in: .whitespaces)
    }

    /// Text from a message or a client made safe for one line of output (a digest, a
    /// listing): control characters, CR and LF among them, become spaces.
    public static func oneLine(_ text: String) -> String {
        String(String.UnicodeScalarView(text.unicodeScalars.map { $0.properties.generalCategory == .control ? " " : $0 }))
    }

    /// Decodes RFC 2047 encoded words (`=?charset?B?...?=`, `=?charset?Q?...?=`) in UTF-8,
    /// US-ASCII, ISO-8859-1 and Windows-1252; white space between two encoded words is
    /// dropped. A word in another charset, or malformed, is left as it is.
    /// - SeeAlso: RFC 2047 §4, §6.2.
    public static func decodeEncodedWords(_ text: String) -> String {
        var output = ""
        var pendingSpace = ""
        var previousWasEncoded = false
        var rest = Substring(text)
        while !rest.isEmpty {
            if rest.hasPrefix("=?"), let (decoded, after) = encodedWord(at: rest) {
                if !previousWasEncoded { output += pendingSpace }
                output += decoded
                pendingSpace = ""
                previousWasEncoded = true
                rest = after
                continue
            }
            let character = rest.removeFirst()
            if character == " " || character == "\t" {
                pendingSpace.append(character)
                continue
            }
            output += pendingSpace
            output.append(character)
            pendingSpace = ""
            previousWasEncoded = false
        }
        return output + pendingSpace
    }

    /// Decodes the encoded word at the start of `text`; returns it and what follows it.
    private static func encodedWord(at text: Substring) -> (String, Substring)? {
        let parts = text.dropFirst(2).split(separator: "?", maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count == 3, let end = parts[2].range(of: "?=") else { return nil }
        let charset = parts[0].split(separator: "*").first.map { $0.lowercased() } ?? ""
        let encoded = parts[2][..<end.lowerBound]
        guard !encoded.contains(" ") else { return nil }
        let bytes: [UInt8]?
        switch parts[1].uppercased() {
        case "B": bytes = Data(base64Encoded: String(encoded), options: .ignoreUnknownCharacters).map { Array($0) }
        case "Q": bytes = quotedPrintableWord(encoded)
        default: bytes = nil
        }
        guard let bytes, let decoded = string(from: bytes, charset: charset) else { return nil }
        return (decoded, parts[2][end.upperBound...])
    }

    private static func quotedPrintableWord(_ text: Substring) -> [UInt8]? {
        var bytes: [UInt8] = []
        var iterator = Array(text.utf8).makeIterator()
        while let byte = iterator.next() {
            switch byte {
            case UInt8(ascii: "_"):
                bytes.append(UInt8(ascii: " "))
            case UInt8(ascii: "="):
                guard let high = iterator.next(), let low = iterator.next(),
                    let value = UInt8(String(decoding: [high, low], as: UTF8.self), radix: 16)
                else { return nil }
                bytes.append(value)
            default:
                bytes.append(byte)
            }
        }
        return bytes
    }

    private static func string(from bytes: [UInt8], charset: String) -> String? {
        switch charset {
        case "utf-8", "utf8", "us-ascii": String(validating: bytes, as: UTF8.self)
        case "iso-8859-1", "latin1": String(bytes: bytes, encoding: .isoLatin1)
        case "windows-1252", "cp1252": String(bytes: bytes, encoding: .windowsCP1252)
        default: nil
        }
    }
}
