/// RFC 2047 encoded-words (`=?charset?B?...?=`, `=?charset?Q?...?=`) in header text.
enum EncodedWords {
    /// Decodes every encoded-word in `text`.
    ///
    /// Adjacent encoded-words separated only by whitespace are joined without it (RFC 2047 §6.2),
    /// and their bytes are joined before charset conversion when they share a charset, so a
    /// multi-byte character split across two words survives. Words not set off by whitespace
    /// are decoded too, as most mail readers do. A word that does not parse stays as written.
    static func decode(_ text: String, defects: inout [MIMEDefect], part: String, context: String) -> String {
        let bytes = Array(text.utf8)
        guard bytes.count > 7, containsMarker(bytes) else { return text }
        var output = ""
        var pendingCharset: String?
        var pendingBytes: [UInt8] = []
        var literalStart = 0
        var index = 0
        var terminatorCache = -1
        var sawEncodedWord = false

        func flushPending() {
            guard let charset = pendingCharset else { return }
            let decoded = MIMECharset.decode(pendingBytes[...], charset: charset)
            if let defect = decoded.defect {
                defects.append(MIMEDefect(defect, "charset \(charset) in an encoded-word of \(context)", part: part))
            }
            output += decoded.text
            pendingCharset = nil
            pendingBytes.removeAll(keepingCapacity: true)
        }

        while index + 1 < bytes.count {
            guard bytes[index] == UInt8(ascii: "="), bytes[index + 1] == UInt8(ascii: "?"),
                let word = parseWord(bytes, at: index, terminatorCache: &terminatorCache)
            else {
                index += 1
                continue
            }
            let literal = bytes[literalStart..<index]
            if !(sawEncodedWord && literal.allSatisfy(MIMETransferEncoding.isWhitespace)) {
                flushPending()
                output += String(decoding: literal, as: UTF8.self)
            }
            // Missing padding is common in encoded-words and loses nothing: no defect for it.
            var problems = MIMETransferEncoding.Base64Problems()
            var badEscape = false
            let payload = word.isBase64
                ? MIMETransferEncoding.base64(bytes[word.text], problems: &problems)
                : qDecode(bytes[word.text], badEscape: &badEscape)
            if problems.invalidBytes > 0 || problems.dangling || badEscape {
                let written = String(decoding: bytes[index..<word.end], as: UTF8.self)
                defects.append(MIMEDefect(.invalidEncodedWord, "\(written) in \(context)", part: part))
            }
            if let charset = pendingCharset, charset.equalsIgnoringASCIICase(word.charset) {
                pendingBytes += payload
            } else {
                flushPending()
                pendingCharset = word.charset
                pendingBytes = payload
            }
            sawEncodedWord = true
            index = word.end
            literalStart = index
        }
        flushPending()
        output += String(decoding: bytes[literalStart...], as: UTF8.self)
        return output
    }

    private struct Word {
        var charset: String
        var isBase64: Bool
        var text: Range<Int>
        var end: Int
    }

    private static func containsMarker(_ bytes: [UInt8]) -> Bool {
        for index in 0..<(bytes.count - 1) where bytes[index] == UInt8(ascii: "=") && bytes[index + 1] == UInt8(ascii: "?") {
            return true
        }
        return false
    }

    /// Parses the word starting with `=?` at `start`. `terminatorCache` remembers the last `?=`
    /// found (or `Int.max` when none is left), so a header full of `=?` without an end is read
    /// in linear time.
    private static func parseWord(_ bytes: [UInt8], at start: Int, terminatorCache: inout Int) -> Word? {
        var index = start + 2
        let charsetStart = index
        while index < bytes.count, bytes[index] != UInt8(ascii: "?") {
            let byte = bytes[index]
            guard byte > 0x20, byte < 0x7F, index - charsetStart < 64 else { return nil }
            index += 1
        }
        guard index > charsetStart, index + 2 < bytes.count, bytes[index + 2] == UInt8(ascii: "?") else { return nil }
        let isBase64: Bool
        switch bytes[index + 1] {
        case UInt8(ascii: "B"), UInt8(ascii: "b"): isBase64 = true
        case UInt8(ascii: "Q"), UInt8(ascii: "q"): isBase64 = false
        default: return nil
        }
        let charset = String(decoding: bytes[charsetStart..<index], as: UTF8.self)
        let textStart = index + 3
        if terminatorCache < textStart {
            terminatorCache = Int.max
            var search = textStart
            while search + 1 < bytes.count {
                if bytes[search] == UInt8(ascii: "?"), bytes[search + 1] == UInt8(ascii: "=") {
                    terminatorCache = search
                    break
                }
                search += 1
            }
        }
        guard terminatorCache != Int.max else { return nil }
        return Word(charset: charset, isBase64: isBase64, text: textStart..<terminatorCache, end: terminatorCache + 2)
    }

    /// The Q encoding (RFC 2047 §4.2): `_` is a space, `=XX` a byte.
    private static func qDecode(_ text: ArraySlice<UInt8>, badEscape: inout Bool) -> [UInt8] {
        var output: [UInt8] = []
        output.reserveCapacity(text.count)
        var index = text.startIndex
        while index < text.endIndex {
            let byte = text[index]
            if byte == UInt8(ascii: "_") {
                output.append(0x20)
            } else if byte == UInt8(ascii: "="), index + 2 < text.endIndex,
                let high = MIMETransferEncoding.hexValue(text[index + 1]), let low = MIMETransferEncoding.hexValue(text[index + 2])
            {
                output.append(high << 4 | low)
                index += 2
            } else {
                if byte == UInt8(ascii: "=") { badEscape = true }
                output.append(byte)
            }
            index += 1
        }
        return output
    }
}

extension String {
    /// ASCII case-insensitive equality, without allocating lowercased copies.
    func equalsIgnoringASCIICase(_ other: String) -> Bool {
        let lhs = utf8, rhs = other.utf8
        guard lhs.count == rhs.count else { return false }
        return zip(lhs, rhs).allSatisfy { a, b in
            (a | 0x20 == b | 0x20) && (a | 0x20 >= 0x61 && a | 0x20 <= 0x7A || a == b)
        }
    }
}
