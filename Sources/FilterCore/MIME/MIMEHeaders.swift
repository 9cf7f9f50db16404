/// One header field: its name, its value unfolded, and its value decoded.
public struct MIMEHeaderField: Sendable, Hashable {
    /// The field name as written (`Subject`); compare names case-insensitively.
    public var name: String
    /// The value unfolded (line breaks of folded lines removed, RFC 5322 §2.2.3) and trimmed,
    /// with encoded-words left as written. 8-bit bytes are read as UTF-8 (RFC 6532), or as
    /// ISO-8859-1 when they are not valid UTF-8.
    public var rawValue: String
    /// ``rawValue`` with RFC 2047 encoded-words decoded, for display and matching.
    public var value: String

    /// Creates a field.
    public init(name: String, rawValue: String, value: String) {
        self.name = name
        self.rawValue = rawValue
        self.value = value
    }

    /// Whether `name` is a valid field name: one or more printable US-ASCII characters other
    /// than `:` (RFC 5322 §3.6.8 `ftext`).
    public static func isValidName(_ name: String) -> Bool {
        !name.isEmpty && name.unicodeScalars.allSatisfy { (33...126).contains($0.value) && $0 != ":" }
    }
}

/// The header fields of a message or body part, in their order.
public struct MIMEHeaders: Sendable, Hashable, RandomAccessCollection {
    /// The fields in order.
    public var fields: [MIMEHeaderField]

    /// Creates headers from fields.
    public init(_ fields: [MIMEHeaderField] = []) {
        self.fields = fields
    }

    /// The position of the first field.
    public var startIndex: Int { fields.startIndex }
    /// The position after the last field.
    public var endIndex: Int { fields.endIndex }
    /// The field at `position`.
    public subscript(position: Int) -> MIMEHeaderField { fields[position] }

    /// The decoded value of the first field called `name` (compared case-insensitively), or `nil`.
    public subscript(name: String) -> String? {
        first(named: name)?.value
    }

    /// The first field called `name` (compared case-insensitively), or `nil`.
    public func first(named name: String) -> MIMEHeaderField? {
        fields.first { $0.name.equalsIgnoringASCIICase(name) }
    }

    /// The decoded values of every field called `name`, in order.
    public func values(_ name: String) -> [String] {
        fields.filter { $0.name.equalsIgnoringASCIICase(name) }.map(\.value)
    }
}

/// Splits a header block from its body and reads its fields.
enum MIMEHeaderParser {
    struct Result {
        var headers: MIMEHeaders
        /// Where the body starts (after the empty line), within the parsed range.
        var bodyStart: Int
    }

    /// Parses the header block at the start of `bytes[range]`; CRLF or bare LF line ends.
    static func parse(_ bytes: [UInt8], range: Range<Int>, part: String, defects: inout [MIMEDefect]) -> Result {
        var fields: [MIMEHeaderField] = []
        var name: String?
        var value: [UInt8] = []
        var lineStart = range.lowerBound
        let end = range.upperBound

        func finishField() {
            guard let fieldName = name else { return }
            fields.append(makeField(name: fieldName, value: value[...], part: part, defects: &defects))
            name = nil
            value.removeAll(keepingCapacity: true)
        }

        while lineStart < end {
            var lineEnd = lineStart
            while lineEnd < end, bytes[lineEnd] != UInt8(ascii: "\n") { lineEnd += 1 }
            let next = lineEnd < end ? lineEnd + 1 : end
            if lineEnd > lineStart, bytes[lineEnd - 1] == UInt8(ascii: "\r") { lineEnd -= 1 }
            if lineEnd == lineStart {
                finishField()
                return Result(headers: MIMEHeaders(fields), bodyStart: next)
            }
            let first = bytes[lineStart]
            if first == UInt8(ascii: " ") || first == UInt8(ascii: "\t") {
                if name != nil {
                    value.append(contentsOf: bytes[lineStart..<lineEnd])
                } else {
                    defects.append(MIMEDefect(.invalidHeaderLine, "continuation line before the first header field ignored", part: part))
                }
            } else if let colon = fieldNameEnd(bytes, lineStart..<lineEnd) {
                finishField()
                var nameEnd = colon
                while nameEnd > lineStart, bytes[nameEnd - 1] == UInt8(ascii: " ") || bytes[nameEnd - 1] == UInt8(ascii: "\t") { nameEnd -= 1 }
                name = String(decoding: bytes[lineStart..<nameEnd], as: UTF8.self)
                value.append(contentsOf: bytes[(colon + 1)..<lineEnd])
            } else if fields.isEmpty, name == nil, bytes[lineStart..<lineEnd].starts(with: "From ".utf8) {
                defects.append(MIMEDefect(.invalidHeaderLine, "mbox 'From ' line before the header ignored", part: part))
            } else {
                finishField()
                let line = String(decoding: bytes[lineStart..<min(lineEnd, lineStart + 60)], as: UTF8.self)
                defects.append(MIMEDefect(.missingHeaderBodySeparator, "the body is taken to start at the line \"\(line)\"", part: part))
                return Result(headers: MIMEHeaders(fields), bodyStart: lineStart)
            }
            lineStart = next
        }
        finishField()
        return Result(headers: MIMEHeaders(fields), bodyStart: end)
    }

    /// The colon ending a valid field name (printable ASCII, RFC 5322 §3.6.8; whitespace before
    /// the colon tolerated as obsolete syntax), or `nil` when the line is not a field.
    private static func fieldNameEnd(_ bytes: [UInt8], _ line: Range<Int>) -> Int? {
        var index = line.lowerBound
        var sawWhitespace = false
        while index < line.upperBound {
            let byte = bytes[index]
            if byte == UInt8(ascii: ":") { return index > line.lowerBound ? index : nil }
            if byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") {
                sawWhitespace = true
            } else if byte < 0x21 || byte > 0x7E || sawWhitespace {
                return nil
            }
            index += 1
        }
        return nil
    }

    private static func makeField(name: String, value: ArraySlice<UInt8>, part: String, defects: inout [MIMEDefect]) -> MIMEHeaderField {
        var start = value.startIndex
        var end = value.endIndex
        while start < end, MIMETransferEncoding.isWhitespace(value[start]) { start += 1 }
        while end > start, MIMETransferEncoding.isWhitespace(value[end - 1]) { end -= 1 }
        let trimmed = value[start..<end]
        let rawValue: String
        if let text = MIMECharset.validUTF8(trimmed) {
            rawValue = text
        } else {
            defects.append(MIMEDefect(.nonUTF8HeaderBytes, "\(name) read as ISO-8859-1", part: part))
            rawValue = MIMECharset.latin1(trimmed)
        }
        let decoded = EncodedWords.decode(rawValue, defects: &defects, part: part, context: name)
        return MIMEHeaderField(name: name, rawValue: rawValue, value: decoded)
    }
}
