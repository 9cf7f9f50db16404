import Foundation

/// What a processor sees of a message, as a `Codable` document: the JSON that
/// `filterctl inspect FILE` prints, for operators and processor authors.
public struct MIMEInspection: Codable, Sendable, Hashable {
    /// One header field.
    public struct Header: Codable, Sendable, Hashable {
        /// The field name as written.
        public var name: String
        /// The decoded value (``MIMEHeaderField/value``).
        public var value: String
        /// The unfolded value as written, only when it differs from ``value``.
        public var raw: String?
    }

    /// One mailbox of an address field.
    public struct Address: Codable, Sendable, Hashable {
        /// The decoded display name, if any.
        public var displayName: String?
        /// The address.
        public var address: String
    }

    /// One node of the part tree.
    public struct Part: Codable, Sendable, Hashable {
        /// ``MIMEPart/path`` (`""` for the message itself).
        public var path: String
        /// ``MIMEPart/contentType``.
        public var contentType: String
        /// ``MIMEPart/charset``.
        public var charset: String?
        /// ``MIMEPart/transferEncoding``.
        public var transferEncoding: String?
        /// ``MIMEPart/disposition``.
        public var disposition: String?
        /// ``MIMEPart/filename``.
        public var filename: String?
        /// ``MIMEPart/isAttachment``.
        public var isAttachment: Bool
        /// ``MIMEPart/decodedSize``, in bytes.
        public var decodedSize: Int
        /// The part's own header fields (the message's are at the top of the document).
        public var headers: [Header]?
        /// The children, in order (absent for a leaf).
        public var children: [Part]?
    }

    /// One defect.
    public struct Defect: Codable, Sendable, Hashable {
        /// ``MIMEDefect/code``'s stable name.
        public var code: String
        /// ``MIMEDefect/detail``.
        public var detail: String
        /// ``MIMEDefect/part``.
        public var part: String
    }

    /// The raw size in bytes.
    public var size: Int
    /// The top-level header fields, in order.
    public var headers: [Header]
    /// The decoded subject.
    public var subject: String?
    /// `From`, parsed.
    public var from: [Address]
    /// `To`, parsed.
    public var to: [Address]
    /// `Cc`, parsed.
    public var cc: [Address]
    /// `Reply-To`, parsed.
    public var replyTo: [Address]
    /// The part tree.
    public var structure: Part
    /// ``MIMEMessage/textBody``.
    public var textBody: String?
    /// ``MIMEMessage/htmlBody``.
    public var htmlBody: String?
    /// The paths of ``MIMEMessage/attachments``.
    public var attachments: [String]
    /// ``MIMEMessage/defects``.
    public var defects: [Defect]

    /// Describes a message.
    public init(_ message: MIMEMessage) {
        size = message.size
        headers = Self.headers(message.headers)
        subject = message.subject
        from = Self.addresses(message.from)
        to = Self.addresses(message.to)
        cc = Self.addresses(message.cc)
        replyTo = Self.addresses(message.replyTo)
        structure = Self.part(message.root, isRoot: true)
        textBody = message.textBody
        htmlBody = message.htmlBody
        attachments = message.attachments.map(\.path)
        defects = message.defects.map { Defect(code: $0.code.rawValue, detail: $0.detail, part: $0.part) }
    }

    /// The document as pretty-printed JSON with sorted keys and unescaped slashes.
    public func json() -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        // Every member is a string, number, boolean or array of those: encoding cannot fail.
        let data = (try? encoder.encode(self)) ?? Data()
        return String(decoding: data, as: UTF8.self)
    }

    private static func headers(_ headers: MIMEHeaders) -> [Header] {
        headers.map { Header(name: $0.name, value: $0.value, raw: $0.rawValue == $0.value ? nil : $0.rawValue) }
    }

    private static func addresses(_ list: [MailboxAddress]) -> [Address] {
        list.map { Address(displayName: $0.displayName, address: $0.address) }
    }

    private static func part(_ part: MIMEPart, isRoot: Bool) -> Part {
        Part(
            path: part.path, contentType: part.contentType, charset: part.charset,
            transferEncoding: part.transferEncoding, disposition: part.disposition, filename: part.filename,
            isAttachment: part.isAttachment, decodedSize: part.decodedSize,
            headers: isRoot || part.headers.isEmpty ? nil : headers(part.headers),
            children: part.children.isEmpty ? nil : part.children.map { Self.part($0, isRoot: false) }
        )
    }
}
