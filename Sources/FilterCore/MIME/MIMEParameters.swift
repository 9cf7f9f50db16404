/// A structured header value with parameters: `Content-Type` (RFC 2045 §5.1) and
/// `Content-Disposition` (RFC 2183), with RFC 2231 extended and continued parameters.
struct MIMEParameterizedValue {
    /// The value before the first `;`, lowercased, with comments and whitespace removed.
    var value: String
    /// Parameters by lowercased name, decoded (RFC 2231 segments joined and converted,
    /// RFC 2047 encoded-words in plain values decoded as many mailers expect).
    var parameters: [String: String]

    init(_ raw: String, field: String, part: String, defects: inout [MIMEDefect]) {
        var scanner = Scanner(bytes: Array(raw.utf8))
        value = scanner.readUntilSemicolon().lowercased()
        var plain: [String: String] = [:]
        var segments: [String: [(index: Int, encoded: Bool, value: String)]] = [:]
        while scanner.skipSemicolons() {
            let name = scanner.readName().lowercased()
            guard !name.isEmpty, scanner.skipEquals() else {
                _ = scanner.readUntilSemicolon()
                continue
            }
            let parameterValue = scanner.readValue()
            if scanner.unterminatedQuote {
                defects.append(MIMEDefect(.invalidParameter, "\(field): unterminated quoted value of \(name)", part: part))
            }
            if let star = name.firstIndex(of: "*") {
                let base = String(name[..<star])
                var rest = name[name.index(after: star)...]
                let encoded = rest.hasSuffix("*") || rest.isEmpty
                if rest.hasSuffix("*") { rest = rest.dropLast() }
                guard let index = rest.isEmpty ? 0 : Int(rest), index >= 0, !base.isEmpty else {
                    defects.append(MIMEDefect(.invalidParameter, "\(field): parameter name \(name) is not RFC 2231", part: part))
                    continue
                }
                segments[base, default: []].append((index, encoded, parameterValue))
            } else if plain[name] == nil {
                plain[name] = parameterValue
            }
        }
        // Sorted by name, so that defects come in the same order on every run.
        parameters = [:]
        for (name, plainValue) in plain.sorted(by: { $0.key < $1.key }) {
            parameters[name] = EncodedWords.decode(plainValue, defects: &defects, part: part, context: field)
        }
        for (base, parts) in segments.sorted(by: { $0.key < $1.key }) {
            parameters[base] = Self.joinSegments(parts, name: base, field: field, part: part, defects: &defects)
        }
    }

    /// Joins RFC 2231 continuations (`name*0*=utf-8''a%20b`, `name*1=c`) in index order and
    /// converts them from the charset the first segment names.
    private static func joinSegments(
        _ parts: [(index: Int, encoded: Bool, value: String)], name: String, field: String, part: String,
        defects: inout [MIMEDefect]
    ) -> String {
        let sorted = parts.sorted { $0.index < $1.index }
        if sorted.enumerated().contains(where: { $0.offset != $0.element.index }) {
            defects.append(MIMEDefect(.invalidParameter, "\(field): continuations of \(name) are not numbered 0, 1, 2, ...", part: part))
        }
        var charset: String?
        var bytes: [UInt8] = []
        var badEscapes = false
        for (position, segment) in sorted.enumerated() {
            var text = Substring(segment.value)
            if segment.encoded {
                if position == 0 {
                    let pieces = text.split(separator: "'", maxSplits: 2, omittingEmptySubsequences: false)
                    if pieces.count == 3 {
                        charset = pieces[0].isEmpty ? nil : String(pieces[0])
                        text = pieces[2]
                    }
                }
                bytes += percentDecode(text, bad: &badEscapes)
            } else {
                bytes += Array(text.utf8)
            }
        }
        if badEscapes {
            defects.append(MIMEDefect(.invalidParameter, "\(field): bad percent escape in \(name)", part: part))
        }
        let decoded = MIMECharset.decode(bytes[...], charset: charset)
        if let defect = decoded.defect, let charset {
            defects.append(MIMEDefect(defect, "\(field): charset \(charset) of parameter \(name)", part: part))
        }
        return decoded.text
    }

    private static func percentDecode(_ text: Substring, bad: inout Bool) -> [UInt8] {
        let input = Array(text.utf8)
        var output: [UInt8] = []
        var index = 0
        while index < input.count {
            if input[index] == UInt8(ascii: "%"), index + 2 < input.count,
                let high = MIMETransferEncoding.hexValue(input[index + 1]), let low = MIMETransferEncoding.hexValue(input[index + 2])
            {
                output.append(high << 4 | low)
                index += 3
            } else {
                if input[index] == UInt8(ascii: "%") { bad = true }
                output.append(input[index])
                index += 1
            }
        }
        return output
    }

    /// A cursor over a header value that skips comments and whitespace where RFC 2045 allows them.
    private struct Scanner {
        let bytes: [UInt8]
        var index = 0
        /// Set when a quoted string ran to the end of the value without its closing quote.
        var unterminatedQuote = false

        init(bytes: [UInt8]) { self.bytes = bytes }

        mutating func skipWhitespaceAndComments() {
            while index < bytes.count {
                let byte = bytes[index]
                if MIMETransferEncoding.isWhitespace(byte) {
                    index += 1
                } else if byte == UInt8(ascii: "(") {
                    var depth = 0
                    while index < bytes.count {
                        switch bytes[index] {
                        case UInt8(ascii: "\\"): index += 1
                        case UInt8(ascii: "("): depth += 1
                        case UInt8(ascii: ")"): depth -= 1
                        default: break
                        }
                        index += 1
                        if depth == 0 { break }
                    }
                } else {
                    return
                }
            }
        }

        /// Text up to the next `;` outside quotes, without comments, trimmed.
        mutating func readUntilSemicolon() -> String {
            var output: [UInt8] = []
            skipWhitespaceAndComments()
            while index < bytes.count, bytes[index] != UInt8(ascii: ";") {
                if bytes[index] == UInt8(ascii: "(") {
                    skipWhitespaceAndComments()
                    continue
                }
                if bytes[index] == UInt8(ascii: "\"") {
                    output += Array(readQuoted().utf8)
                    continue
                }
                output.append(bytes[index])
                index += 1
            }
            while let last = output.last, MIMETransferEncoding.isWhitespace(last) { output.removeLast() }
            return String(decoding: output, as: UTF8.self)
        }

        /// Skips `;` separators; `false` at the end of the value.
        mutating func skipSemicolons() -> Bool {
            skipWhitespaceAndComments()
            while index < bytes.count, bytes[index] == UInt8(ascii: ";") {
                index += 1
                skipWhitespaceAndComments()
            }
            return index < bytes.count
        }

        mutating func readName() -> String {
            let start = index
            while index < bytes.count, !MIMETransferEncoding.isWhitespace(bytes[index]),
                bytes[index] != UInt8(ascii: "="), bytes[index] != UInt8(ascii: ";")
            {
                index += 1
            }
            return String(decoding: bytes[start..<index], as: UTF8.self)
        }

        mutating func skipEquals() -> Bool {
            skipWhitespaceAndComments()
            guard index < bytes.count, bytes[index] == UInt8(ascii: "=") else { return false }
            index += 1
            skipWhitespaceAndComments()
            return true
        }

        /// A quoted string, or a token; unquoted values run to the next `;` (tolerating the
        /// spaces some mailers leave in unquoted file names).
        mutating func readValue() -> String {
            if index < bytes.count, bytes[index] == UInt8(ascii: "\"") { return readQuoted() }
            return readUntilSemicolon()
        }

        /// A quoted string without its quotes; an unterminated one runs to the end of the value.
        private mutating func readQuoted() -> String {
            index += 1
            var output: [UInt8] = []
            while index < bytes.count {
                let byte = bytes[index]
                if byte == UInt8(ascii: "\"") {
                    index += 1
                    return String(decoding: output, as: UTF8.self)
                }
                if byte == UInt8(ascii: "\\"), index + 1 < bytes.count {
                    index += 1
                }
                output.append(bytes[index])
                index += 1
            }
            unterminatedQuote = true
            return String(decoding: output, as: UTF8.self)
        }
    }
}
