/// One node of a message's MIME tree (RFC 2045, RFC 2046): the message itself, a multipart, a
/// leaf, or a `message/rfc822` part whose only child is the enclosed message.
public struct MIMEPart: Sendable {
    /// Where the part sits: `""` for the message itself, `"2"` for its second part, `"2.1"` for
    /// the first part of that. The enclosed message of a `message/rfc822` part at `"3"` is `"3.1"`.
    public var path: String
    /// The part's header fields.
    public var headers: MIMEHeaders
    /// The lowercased `type/subtype`: `text/plain` when there is no (or no parseable)
    /// `Content-Type`, `message/rfc822` for parts of a `multipart/digest`.
    public var contentType: String
    /// The `Content-Type` parameters by lowercased name, decoded (RFC 2231, RFC 2047).
    public var parameters: [String: String]
    /// The `charset` parameter, lowercased, or `nil` when none is given.
    public var charset: String?
    /// The `Content-Transfer-Encoding`, lowercased, or `nil` when none is given (7bit).
    public var transferEncoding: String?
    /// The `Content-Disposition` type, lowercased (`attachment`, `inline`), or `nil`.
    public var disposition: String?
    /// The `Content-Disposition` parameters by lowercased name, decoded (RFC 2231, RFC 2047).
    public var dispositionParameters: [String: String]
    /// The file name: `Content-Disposition`'s `filename` (RFC 2231 `filename*` preferred), else
    /// `Content-Type`'s `name`; `nil` when neither is given.
    public var filename: String?
    /// Whether the part is an attachment: not a multipart, and either `Content-Disposition:
    /// attachment` or a file name.
    public var isAttachment: Bool
    /// The parts of a multipart, in order; the enclosed message of a `message/rfc822` part;
    /// empty for a leaf.
    public var children: [MIMEPart]
    /// The body with its transfer encoding removed; for a multipart, its body as written
    /// (preamble, delimiters and epilogue included).
    public var decodedBody: [UInt8]
    /// For `text/*` parts, ``decodedBody`` converted from ``charset`` with line ends as LF;
    /// `nil` for other types. When the charset is unknown or wrong the text is read as UTF-8
    /// or ISO-8859-1 (see ``MIMEDefect/Code/charsetMismatch``); ``decodedBody`` keeps the bytes.
    public var text: String?
    /// Defects found in this part itself (not its children).
    public var defects: [MIMEDefect]

    /// The size of ``decodedBody`` in bytes.
    public var decodedSize: Int { decodedBody.count }

    /// Whether this is a `multipart/*` part.
    public var isMultipart: Bool { contentType.hasPrefix("multipart/") }

    /// Whether this part encloses a message (`message/rfc822`, `message/global`).
    public var isEnclosedMessage: Bool { contentType == "message/rfc822" || contentType == "message/global" }

    /// This part followed by all its descendants, depth first, in order.
    public var flattened: [MIMEPart] {
        var parts: [MIMEPart] = []
        appendFlattened(to: &parts)
        return parts
    }

    private func appendFlattened(to parts: inout [MIMEPart]) {
        parts.append(self)
        for child in children { child.appendFlattened(to: &parts) }
    }
}

/// Builds the part tree of a message from its bytes.
struct MIMETreeBuilder {
    let limits: MIMELimits
    private var partCount = 0

    init(limits: MIMELimits) {
        self.limits = limits
    }

    /// Builds the part in `bytes[range]` whose header block has already been read.
    mutating func buildPart(
        _ bytes: [UInt8], headers: MIMEHeaders, bodyRange: Range<Int>, path: String, depth: Int,
        defaultType: String, defects inherited: [MIMEDefect] = []
    ) -> MIMEPart {
        partCount += 1
        var defects = inherited
        var contentType = defaultType
        var parameters: [String: String] = [:]
        if let field = headers.first(named: "Content-Type") {
            let parsed = MIMEParameterizedValue(field.rawValue, field: "Content-Type", part: path, defects: &defects)
            parameters = parsed.parameters
            if Self.isMediaType(parsed.value) {
                contentType = parsed.value
            } else {
                defects.append(MIMEDefect(.invalidContentType, "\"\(field.rawValue.prefix(80))\" read as text/plain", part: path))
                contentType = "text/plain"
            }
        }
        let transferEncoding = headers.first(named: "Content-Transfer-Encoding").map {
            MIMEParameterizedValue($0.rawValue, field: "Content-Transfer-Encoding", part: path, defects: &defects).value
        }
        var disposition: String?
        var dispositionParameters: [String: String] = [:]
        if let field = headers.first(named: "Content-Disposition") {
            let parsed = MIMEParameterizedValue(field.rawValue, field: "Content-Disposition", part: path, defects: &defects)
            disposition = parsed.value.isEmpty ? nil : parsed.value
            dispositionParameters = parsed.parameters
        }
        let filename = (dispositionParameters["filename"] ?? parameters["name"]).flatMap { $0.isEmpty ? nil : $0 }

        var children: [MIMEPart] = []
        let isComposite = contentType.hasPrefix("multipart/") || contentType == "message/rfc822" || contentType == "message/global"
        if isComposite, let encoding = transferEncoding, !["7bit", "8bit", "binary"].contains(encoding) {
            defects.append(MIMEDefect(.encodedComposite, "\(contentType) with Content-Transfer-Encoding \(encoding) decoded before parsing", part: path))
        }
        let decodedBody = MIMETransferEncoding.decode(bytes[bodyRange], encoding: transferEncoding, defects: &defects, part: path)

        if isComposite, depth >= limits.maxDepth {
            defects.append(MIMEDefect(.nestingTooDeep, "\(contentType) deeper than \(limits.maxDepth) levels kept as a leaf", part: path))
        } else if contentType.hasPrefix("multipart/") {
            if let boundary = parameters["boundary"], !boundary.isEmpty {
                let split = Self.split(decodedBody, boundary: Array(boundary.utf8))
                if split.parts.isEmpty {
                    defects.append(MIMEDefect(.boundaryNotFound, "boundary \"\(boundary)\" of \(contentType) never occurs; read as text/plain", part: path))
                    contentType = "text/plain"
                } else {
                    if !split.closed {
                        defects.append(MIMEDefect(.missingClosingBoundary, "\(contentType) boundary \"\(boundary)\" is never closed", part: path))
                    }
                    let childType = contentType == "multipart/digest" ? "message/rfc822" : "text/plain"
                    for (offset, range) in split.parts.enumerated() {
                        guard partCount < limits.maxParts else {
                            defects.append(MIMEDefect(.tooManyParts, "more than \(limits.maxParts) parts; \(split.parts.count - offset) part(s) of \(contentType) left out", part: path))
                            break
                        }
                        children.append(buildChild(decodedBody, range: range, path: Self.childPath(path, offset), depth: depth + 1, defaultType: childType))
                    }
                }
            } else {
                defects.append(MIMEDefect(.missingBoundary, "\(contentType) without a boundary parameter read as text/plain", part: path))
                contentType = "text/plain"
            }
        } else if isComposite {
            if partCount < limits.maxParts {
                children.append(buildChild(decodedBody, range: decodedBody.indices, path: Self.childPath(path, 0), depth: depth + 1, defaultType: "text/plain"))
            } else {
                defects.append(MIMEDefect(.tooManyParts, "more than \(limits.maxParts) parts; the enclosed message left out", part: path))
            }
        }

        var text: String?
        if contentType.hasPrefix("text/") {
            let decoded = MIMECharset.decode(decodedBody[...], charset: parameters["charset"])
            if let defect = decoded.defect {
                defects.append(MIMEDefect(defect, "charset \(parameters["charset"] ?? "") of \(contentType)", part: path))
            }
            text = Self.normalizingLineEnds(decoded.text)
        }
        return MIMEPart(
            path: path, headers: headers, contentType: contentType, parameters: parameters,
            charset: parameters["charset"]?.lowercased(), transferEncoding: transferEncoding,
            disposition: disposition, dispositionParameters: dispositionParameters, filename: filename,
            isAttachment: !contentType.hasPrefix("multipart/") && (disposition == "attachment" || filename != nil),
            children: children, decodedBody: decodedBody, text: text, defects: defects
        )
    }

    private mutating func buildChild(_ bytes: [UInt8], range: Range<Int>, path: String, depth: Int, defaultType: String) -> MIMEPart {
        var defects: [MIMEDefect] = []
        let header = MIMEHeaderParser.parse(bytes, range: range, part: path, defects: &defects)
        return buildPart(
            bytes, headers: header.headers, bodyRange: header.bodyStart..<range.upperBound, path: path, depth: depth,
            defaultType: defaultType, defects: defects
        )
    }

    private static func childPath(_ path: String, _ offset: Int) -> String {
        path.isEmpty ? String(offset + 1) : path + "." + String(offset + 1)
    }

    /// `type/subtype` made of RFC 2045 token characters.
    private static func isMediaType(_ value: String) -> Bool {
        let pieces = value.split(separator: "/", omittingEmptySubsequences: false)
        return pieces.count == 2 && pieces.allSatisfy { piece in
            !piece.isEmpty && piece.utf8.allSatisfy { $0 > 0x20 && $0 < 0x7F && !"()<>@,;:\\\"/[]?=".utf8.contains($0) }
        }
    }

    /// CRLF to LF, on the UTF-8 bytes (both are ASCII, so the result stays valid UTF-8).
    private static func normalizingLineEnds(_ text: String) -> String {
        var contiguous = text
        let normalized: String? = contiguous.withUTF8 { input in
            guard input.contains(UInt8(ascii: "\r")) else { return nil }
            return String(unsafeUninitializedCapacity: input.count) { output in
                var position = 0
                for index in input.indices {
                    let byte = input[index]
                    if byte == UInt8(ascii: "\r"), index + 1 < input.count, input[index + 1] == UInt8(ascii: "\n") { continue }
                    output[position] = byte
                    position += 1
                }
                return position
            }
        }
        return normalized ?? text
    }

    /// The body parts between delimiter lines (RFC 2046 §5.1.1): a line `--boundary` or
    /// `--boundary--`, optionally followed by whitespace. The line break before a delimiter
    /// belongs to it. A boundary followed by anything else is not a delimiter, so a nested
    /// boundary that extends the outer one (`abc` and `abc-1`) is never mistaken for it.
    static func split(_ bytes: [UInt8], boundary: [UInt8]) -> (parts: [Range<Int>], closed: Bool) {
        bytes.withUnsafeBufferPointer { input in
            boundary.withUnsafeBufferPointer { boundary in
                split(input, boundary: boundary)
            }
        }
    }

    private static func split(_ bytes: UnsafeBufferPointer<UInt8>, boundary: UnsafeBufferPointer<UInt8>) -> (parts: [Range<Int>], closed: Bool) {
        var parts: [Range<Int>] = []
        var partStart: Int?
        var lineStart = 0
        let end = bytes.count
        let delimiterLength = boundary.count + 2
        while lineStart < end {
            var lineEnd = lineStart
            while lineEnd < end, bytes[lineEnd] != UInt8(ascii: "\n") { lineEnd += 1 }
            let next = lineEnd < end ? lineEnd + 1 : end
            if lineEnd - lineStart >= delimiterLength, bytes[lineStart] == UInt8(ascii: "-"), bytes[lineStart + 1] == UInt8(ascii: "-"),
                UnsafeBufferPointer(rebasing: bytes[(lineStart + 2)..<(lineStart + delimiterLength)]).elementsEqual(boundary)
            {
                var rest = lineStart + delimiterLength
                let closing = rest + 1 < lineEnd && bytes[rest] == UInt8(ascii: "-") && bytes[rest + 1] == UInt8(ascii: "-")
                if closing { rest += 2 }
                if bytes[rest..<lineEnd].allSatisfy(MIMETransferEncoding.isWhitespace) {
                    if let start = partStart {
                        var contentEnd = lineStart
                        if contentEnd > start, bytes[contentEnd - 1] == UInt8(ascii: "\n") { contentEnd -= 1 }
                        if contentEnd > start, bytes[contentEnd - 1] == UInt8(ascii: "\r") { contentEnd -= 1 }
                        parts.append(start..<contentEnd)
                    }
                    if closing { return (parts, true) }
                    partStart = next
                }
            }
            lineStart = next
        }
        if let start = partStart { parts.append(start..<end) }
        return (parts, false)
    }
}
