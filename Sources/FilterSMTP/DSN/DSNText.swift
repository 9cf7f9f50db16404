import FilterCore
import Foundation

/// The text encodings a DSN needs: folded fields, wrapped and quoted-printable
/// text, and the address forms of RFC 3464 and RFC 6533.
enum DSNText {
    static let crlf: [UInt8] = [0x0D, 0x0A]

    /// Text made safe for one field or line: control characters become spaces (a CR or LF in
    /// a remote server's reply must never start a new field), and without `allowUTF8` every
    /// non-ASCII character becomes `?` (message/delivery-status is US-ASCII, RFC 3464 §2.1).
    static func sanitized(_ text: String, allowUTF8: Bool) -> String {
        var result = String.UnicodeScalarView()
        for scalar in text.unicodeScalars {
            if scalar.value < 0x20 || scalar.value == 0x7F || (0x80..<0xA0).contains(scalar.value) {
                result.append(" ")
            } else if scalar.value > 0x7F, !allowUTF8 {
                result.append("?")
            } else {
                result.append(scalar)
            }
        }
        return String(result)
    }

    /// Splits `text` into lines of at most `width` octets at spaces. The first line starts with
    /// `first`, the others with `continuation`; a word too long even for a line of its own is
    /// cut at 998 octets (RFC 5322 §2.1.1), at a character boundary.
    static func fold(_ text: String, first: String, continuation: String, width: Int) -> [[UInt8]] {
        var lines: [[UInt8]] = []
        var line = Array(first.utf8)
        var prefixLength = line.count
        for word in text.split(separator: " ", omittingEmptySubsequences: true) {
            let bytes = Array(word.utf8)
            if line.count > prefixLength {
                if line.count + 1 + bytes.count > width {
                    lines.append(line)
                    line = Array(continuation.utf8)
                    prefixLength = line.count
                } else {
                    line.append(0x20)
                }
            }
            line += bytes
            while line.count > DSNOriginalMessage.maximumLineLength {
                var cut = DSNOriginalMessage.maximumLineLength
                while cut > 0, line[cut] & 0xC0 == 0x80 { cut -= 1 }
                lines.append(Array(line[..<cut]))
                line = Array(continuation.utf8) + line[cut...]
                prefixLength = continuation.utf8.count
            }
        }
        lines.append(line)
        return lines
    }

    /// A header or DSN field, `Name: value`, folded at spaces to lines of 78 octets where
    /// possible (RFC 5322 §2.2.3), each line ending in CRLF.
    static func field(_ name: String, _ value: String) -> [UInt8] {
        fold(value, first: name + ": ", continuation: " ", width: 78).flatMap { $0 + crlf }
    }

    /// The `Original-Envelope-Id` value: `ENVID` xtext-decoded (RFC 3464 §2.2.1), or `nil` when
    /// it is not valid xtext or decodes to anything but printable US-ASCII (RFC 3461 §4.4).
    static func envelopeID(_ envid: String) -> String? {
        guard let decoded = XText.decode(envid), !decoded.isEmpty,
            decoded.unicodeScalars.allSatisfy({ (0x20...0x7E).contains($0.value) })
        else { return nil }
        return decoded
    }

    /// The `Original-Recipient` value from an `ORCPT` parameter (`addr-type;xtext`, RFC 3461
    /// §4.2): xtext-decoded, and for the `utf-8` address type (RFC 6533 §3) with its `\x{HEX}`
    /// escapes undone in a global DSN, or applied to non-ASCII characters in a US-ASCII one.
    /// `nil` when the parameter is malformed.
    static func originalRecipient(_ orcpt: String, global: Bool) -> String? {
        guard let semicolon = orcpt.firstIndex(of: ";") else { return nil }
        let type = String(orcpt[..<semicolon]).trimmingASCIIWhitespace()
        guard !type.isEmpty,
            type.unicodeScalars.allSatisfy({ $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || $0 == "-") }),
            let decoded = XText.decode(String(orcpt[orcpt.index(after: semicolon)...]).trimmingASCIIWhitespace()),
            !decoded.isEmpty
        else { return nil }
        let address = type.lowercased() == "utf-8" ? unescapingUnicode(decoded) : decoded
        guard address.unicodeScalars.allSatisfy({ $0.value >= 0x20 && $0.value != 0x7F }) else { return nil }
        if address.unicodeScalars.allSatisfy(\.isASCII) { return "\(type);\(address)" }
        return "utf-8;" + (global ? address : escapingUnicode(address))
    }

    /// The `Final-Recipient` value (RFC 3464 §2.3.2): `rfc822;address`, or `utf-8;address` for
    /// an internationalized address in a global DSN (RFC 6533 §3).
    static func finalRecipient(_ address: String, global: Bool) -> String {
        let clean = sanitized(address, allowUTF8: true)
        if clean.unicodeScalars.allSatisfy(\.isASCII) { return "rfc822;\(clean)" }
        return "utf-8;" + (global ? clean : escapingUnicode(clean))
    }

    /// Writes every non-ASCII character as `\x{HEX}` (RFC 6533 §3, `utf-8-addr-xtext`).
    static func escapingUnicode(_ text: String) -> String {
        var result = ""
        for scalar in text.unicodeScalars {
            if scalar.isASCII {
                result.unicodeScalars.append(scalar)
            } else {
                result += "\\x{" + String(scalar.value, radix: 16, uppercase: true) + "}"
            }
        }
        return result
    }

    /// Undoes `\x{HEX}` escapes (RFC 6533 §3); anything that is not a valid escape stays as is.
    static func unescapingUnicode(_ text: String) -> String {
        var result = ""
        var rest = Substring(text)
        while let start = rest.range(of: "\\x{") {
            result += rest[..<start.lowerBound]
            let afterOpen = rest[start.upperBound...]
            if let close = afterOpen.firstIndex(of: "}"), let value = UInt32(afterOpen[..<close], radix: 16),
                afterOpen.distance(from: afterOpen.startIndex, to: close) <= 6, let scalar = Unicode.Scalar(value)
            {
                result.unicodeScalars.append(scalar)
                rest = afterOpen[afterOpen.index(after: close)...]
            } else {
                result += rest[start]
                rest = afterOpen
            }
        }
        return result + rest
    }
}
