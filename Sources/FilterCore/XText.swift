/// The `xtext` encoding of RFC 3461 §4: used by `ENVID`, `ORCPT` and XFORWARD values.
///
/// Every octet outside `!`...`~`, and `+` and `=` themselves, is written as `+` followed by two
/// upper-case hex digits.
public enum XText {
    /// Encodes text as xtext.
    public static func encode(_ text: String) -> String {
        var result = ""
        for byte in text.utf8 {
            if byte >= 0x21, byte <= 0x7E, byte != UInt8(ascii: "+"), byte != UInt8(ascii: "=") {
                result.unicodeScalars.append(Unicode.Scalar(byte))
            } else {
                result += "+" + hexDigits(byte)
            }
        }
        return result
    }

    /// Decodes xtext; returns `nil` when the text is not valid xtext (a `+` not followed by
    /// two hex digits, or an octet outside the printable range).
    public static func decode(_ text: String) -> String? {
        var bytes: [UInt8] = []
        var iterator = text.utf8.makeIterator()
        while let byte = iterator.next() {
            if byte == UInt8(ascii: "+") {
                guard let high = iterator.next().flatMap(hexValue), let low = iterator.next().flatMap(hexValue)
                else { return nil }
                bytes.append(high << 4 | low)
            } else if byte >= 0x21, byte <= 0x7E, byte != UInt8(ascii: "=") {
                bytes.append(byte)
            } else {
                return nil
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    private static func hexDigits(_ byte: UInt8) -> String {
        let digits = Array("0123456789ABCDEF".utf8)
        return String(decoding: [digits[Int(byte >> 4)], digits[Int(byte & 0x0F)]], as: UTF8.self)
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        default: nil
        }
    }
}
