import Foundation

/// Charset names (RFC 2046 §4.1.2, IANA) to Swift strings, with a fallback that never drops text.
enum MIMECharset {
    /// The result of a conversion: the text, and the defect when the declared charset could not be used.
    struct Decoded {
        var text: String
        var defect: MIMEDefect.Code?
    }

    /// Converts `bytes` from `charset` (`nil`: none declared, read as UTF-8 when valid).
    ///
    /// When the charset is unknown, or the bytes are invalid in it, the text is read as UTF-8 if
    /// the bytes are valid UTF-8 (the usual truth behind a wrong label), else as ISO-8859-1,
    /// which maps every byte, so nothing is lost.
    static func decode(_ bytes: ArraySlice<UInt8>, charset: String?) -> Decoded {
        guard let charset, let name = canonicalName(charset) else {
            return Decoded(text: fallback(bytes), defect: charset.map { _ in .unknownCharset })
        }
        switch name {
        case "utf-8", "us-ascii":
            if let text = validUTF8(bytes) { return Decoded(text: text, defect: nil) }
            return Decoded(text: fallback(bytes), defect: .charsetMismatch)
        default:
            guard let encoding = encoding(canonical: name) else {
                return Decoded(text: fallback(bytes), defect: .unknownCharset)
            }
            if let text = String(bytes: bytes, encoding: encoding) { return Decoded(text: text, defect: nil) }
            return Decoded(text: fallback(bytes), defect: .charsetMismatch)
        }
    }

    /// Reads undeclared or undecodable bytes: UTF-8 when valid, else ISO-8859-1.
    static func fallback(_ bytes: ArraySlice<UInt8>) -> String {
        validUTF8(bytes) ?? latin1(bytes)
    }

    static func validUTF8(_ bytes: ArraySlice<UInt8>) -> String? {
        String(validating: bytes, as: UTF8.self)
    }

    static func latin1(_ bytes: ArraySlice<UInt8>) -> String {
        var scalars = String.UnicodeScalarView()
        scalars.reserveCapacity(bytes.count)
        for byte in bytes { scalars.append(Unicode.Scalar(byte)) }
        return String(scalars)
    }

    /// Whether the charset can be converted (known name and supported by Foundation here).
    static func isKnown(_ charset: String) -> Bool {
        guard let name = canonicalName(charset) else { return false }
        return name == "utf-8" || name == "us-ascii" || encoding(canonical: name) != nil
    }

    /// Lowercased, unquoted, with the RFC 2231 language suffix (`utf-8*en`) and common aliases
    /// resolved; `nil` for an empty name.
    static func canonicalName(_ charset: String) -> String? {
        var name = charset.trimmingCharacters(in: .whitespaces).lowercased()
        if name.hasPrefix("\""), name.hasSuffix("\""), name.count >= 2 { name = String(name.dropFirst().dropLast()) }
        if let star = name.firstIndex(of: "*") { name = String(name[..<star]) }
        guard !name.isEmpty else { return nil }
        return aliases[name] ?? name
    }

    private static let aliases: [String: String] = [
        "utf8": "utf-8", "ascii": "us-ascii", "ansi_x3.4-1968": "us-ascii", "us": "us-ascii",
        "latin1": "iso-8859-1", "latin-1": "iso-8859-1", "l1": "iso-8859-1", "iso8859-1": "iso-8859-1",
        "iso_8859-1": "iso-8859-1", "latin2": "iso-8859-2", "iso8859-2": "iso-8859-2",
        "iso8859-15": "iso-8859-15", "latin9": "iso-8859-15", "cp1250": "windows-1250",
        "cp1251": "windows-1251", "cp1252": "windows-1252", "cp1253": "windows-1253",
        "cp1254": "windows-1254", "cp1255": "windows-1255", "cp1256": "windows-1256",
        "cp1257": "windows-1257", "cp1258": "windows-1258", "sjis": "shift_jis", "x-sjis": "shift_jis",
        "gbk": "gbk", "cp936": "gbk", "x-gbk": "gbk", "euc-cn": "gb2312", "ks_c_5601-1987": "euc-kr",
    ]

    /// Core Foundation encoding numbers for charsets `String.Encoding(ianaName:)` does not know
    /// on every platform (the `0x8000_0000` bit turns them into `String.Encoding` raw values).
    private static let coreFoundationEncodings: [String: UInt] = [
        "iso-8859-3": 0x0203, "iso-8859-4": 0x0204, "iso-8859-5": 0x0205, "iso-8859-6": 0x0206,
        "iso-8859-7": 0x0207, "iso-8859-8": 0x0208, "iso-8859-8-i": 0x0208, "iso-8859-9": 0x0209,
        "iso-8859-10": 0x020A, "iso-8859-11": 0x020B, "iso-8859-13": 0x020D, "iso-8859-14": 0x020E,
        "iso-8859-15": 0x020F, "iso-8859-16": 0x0210, "windows-1255": 0x0505, "windows-1256": 0x0506,
        "windows-1257": 0x0507, "windows-1258": 0x0508, "koi8-r": 0x0A02, "koi8-u": 0x0A08,
        "big5": 0x0A03, "gb18030": 0x0632, "gb2312": 0x0930, "gbk": 0x0421, "euc-kr": 0x0940,
        "euc-jp": 0x0920, "iso-2022-jp": 0x0820,
    ]

    /// The table's encodings that convert here (Foundation on Linux lacks some of them), checked
    /// once by converting a plain `A`.
    private static let supportedCoreFoundationEncodings: [String: String.Encoding] =
        coreFoundationEncodings.compactMapValues { number in
            let encoding = String.Encoding(rawValue: 0x8000_0000 | number)
            return String(bytes: [0x41], encoding: encoding) == "A" ? encoding : nil
        }

    private static func encoding(canonical name: String) -> String.Encoding? {
        String.Encoding(ianaName: name) ?? supportedCoreFoundationEncodings[name]
    }
}
