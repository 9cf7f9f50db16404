/// Something wrong with a message that the MIME view worked around.
///
/// The view never throws on malformed input: it builds the best reading it can and lists here
/// what it had to guess. `docs/mime.md` lists every code with the fallback taken.
public struct MIMEDefect: Sendable, Hashable, CustomStringConvertible {
    /// What kind of defect.
    public struct Code: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
        /// The code's stable name, for logs, rules and metrics labels (`missing-closing-boundary`).
        public var rawValue: String
        /// Creates a code; the static members list those the view produces.
        public init(rawValue: String) { self.rawValue = rawValue }
        /// The stable name.
        public var description: String { rawValue }

        /// A line in a header block that is neither a field nor a continuation; the body is
        /// taken to start there.
        public static let missingHeaderBodySeparator = Code(rawValue: "missing-header-body-separator")
        /// A continuation line before the first field of a header block; ignored.
        public static let invalidHeaderLine = Code(rawValue: "invalid-header-line")
        /// 8-bit header bytes that are not UTF-8; read as ISO-8859-1.
        public static let nonUTF8HeaderBytes = Code(rawValue: "non-utf8-header-bytes")
        /// An RFC 2047 encoded-word that cannot be decoded as written (bad base64, unknown
        /// encoding letter); decoded as far as possible or kept as text.
        public static let invalidEncodedWord = Code(rawValue: "invalid-encoded-word")
        /// A charset this view cannot convert; the text is read as UTF-8 when valid, else ISO-8859-1.
        public static let unknownCharset = Code(rawValue: "unknown-charset")
        /// Bytes that are not valid in the declared charset; read as UTF-8 when valid, else ISO-8859-1.
        public static let charsetMismatch = Code(rawValue: "charset-mismatch")
        /// A `Content-Type` that cannot be parsed; the part is read as `text/plain`.
        public static let invalidContentType = Code(rawValue: "invalid-content-type")
        /// A `Content-Type` or `Content-Disposition` parameter that cannot be parsed as written
        /// (an RFC 2231 continuation with a gap, a bad percent escape, an unterminated quote).
        public static let invalidParameter = Code(rawValue: "invalid-parameter")
        /// A multipart without a `boundary` parameter; the part is read as `text/plain`.
        public static let missingBoundary = Code(rawValue: "missing-boundary")
        /// A multipart whose boundary never occurs in its body; the part is read as `text/plain`.
        public static let boundaryNotFound = Code(rawValue: "boundary-not-found")
        /// A multipart whose closing delimiter (`--boundary--`) is missing; its last part runs to
        /// the end of the enclosing body.
        public static let missingClosingBoundary = Code(rawValue: "missing-closing-boundary")
        /// Base64 with characters outside the alphabet (skipped), missing padding or a dangling
        /// final character (dropped).
        public static let invalidBase64 = Code(rawValue: "invalid-base64")
        /// Quoted-printable with an `=` not followed by two hex digits (kept as written).
        public static let invalidQuotedPrintable = Code(rawValue: "invalid-quoted-printable")
        /// A `Content-Transfer-Encoding` this view does not know; the body is taken as it is.
        public static let unknownTransferEncoding = Code(rawValue: "unknown-transfer-encoding")
        /// A multipart or `message/rfc822` part with a transfer encoding other than 7bit, 8bit
        /// or binary (RFC 2045 §6.4 forbids it); the body is decoded before it is parsed.
        public static let encodedComposite = Code(rawValue: "encoded-composite")
        /// An address list (`From`, `To`, ...) that does not parse as RFC 5322; what could be
        /// read is kept.
        public static let invalidAddress = Code(rawValue: "invalid-address")
        /// Parts nested deeper than ``MIMELimits/maxDepth``; the deeper part is kept as a leaf.
        public static let nestingTooDeep = Code(rawValue: "nesting-too-deep")
        /// More parts than ``MIMELimits/maxParts``; the remaining body is kept in the last part.
        public static let tooManyParts = Code(rawValue: "too-many-parts")
    }

    /// What kind of defect.
    public var code: Code
    /// What exactly is wrong, for the operator (names the header field, charset or boundary).
    public var detail: String
    /// Where: the part's path in the tree (`""` for the message itself, `"2"` for its second
    /// part, `"2.1"` for the first part of that), as ``MIMEPart/path``.
    public var part: String

    /// Creates a defect.
    public init(_ code: Code, _ detail: String, part: String = "") {
        self.code = code
        self.detail = detail
        self.part = part
    }

    /// `code (part P): detail`, for logs.
    public var description: String {
        part.isEmpty ? "\(code): \(detail)" : "\(code) (part \(part)): \(detail)"
    }
}

/// Limits that keep a hostile message from costing more than a bounded amount of work.
public struct MIMELimits: Sendable, Hashable {
    /// How deeply multiparts and `message/rfc822` parts may nest before a part is kept as a leaf.
    /// Default 64 levels.
    public var maxDepth: Int
    /// How many parts the whole tree may hold. Default 10,000 parts.
    public var maxParts: Int

    /// Creates limits; the defaults are documented on each property.
    public init(maxDepth: Int = 64, maxParts: Int = 10_000) {
        self.maxDepth = maxDepth
        self.maxParts = maxParts
    }
}
