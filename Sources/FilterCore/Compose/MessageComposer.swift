import Foundation

/// Writes a ``MessageDraft`` as an RFC 5322 / MIME message, ready for SMTP submission.
///
/// Pure code: no I/O. The output is 7-bit clean with CRLF line ends and no line over 998
/// octets; header fields are folded to 78 where possible, text bodies are quoted-printable
/// UTF-8, attachments base64. Structure: `text/plain` (or `text/html`) alone;
/// `multipart/alternative` for text and HTML; `multipart/mixed` around that when there are
/// attachments. Boundaries are random and start with `=_`, which neither quoted-printable nor
/// base64 can produce, so no body can contain one.
///
/// - SeeAlso: RFC 5322, RFC 2045, RFC 2046, RFC 2047, RFC 2183, RFC 2231.
public struct MessageComposer: Sendable {
    /// How much a draft may hold.
    public struct Limits: Sendable, Hashable {
        /// Recipients in `to`, `cc` and `bcc` together, after duplicates are removed. Default 100.
        public var maximumRecipients = 100
        /// Characters in a display name. Default 200.
        public var maximumDisplayNameLength = 200
        /// Characters in the subject. Default 900 (one header line, RFC 5322 §2.1.1, before encoding).
        public var maximumSubjectLength = 900
        /// Attachments. Default 20.
        public var maximumAttachments = 20
        /// Characters in an attachment's file name. Default 255.
        public var maximumFilenameLength = 255
        /// Extra header fields. Default 20.
        public var maximumHeaderFields = 20
        /// Characters of one extra field, name and value together. Default 900, as for the
        /// fields a filter reply may add.
        public var maximumHeaderFieldLength = 900

        /// The defaults above.
        public init() {}
    }

    /// Extra header fields a draft may not set: fields the composer writes itself (addresses,
    /// subject, identity, MIME structure), trace fields, fields the filter owns, and signatures
    /// only the sending system may add. `Content-*` and `Resent-*` are refused as prefixes.
    public static let reservedHeaderNames: Set<String> = [
        "from", "sender", "to", "cc", "bcc", "reply-to", "subject", "date", "message-id", "mime-version",
        "received", "return-path", "delivered-to", "dkim-signature", "arc-seal", "arc-message-signature",
        "arc-authentication-results", "authentication-results",
    ]

    /// The domain of generated `Message-ID`s (normally the host's name).
    public var messageIDDomain: String
    /// The limits in force.
    public var limits: Limits

    /// Creates a composer.
    public init(messageIDDomain: String, limits: Limits = Limits()) {
        self.messageIDDomain = messageIDDomain
        self.limits = limits
    }

    /// Validates `draft` and writes it, with a new `Message-ID` and `Date: date`.
    /// - Throws: ``MessageDraftError`` listing every invalid field.
    public func compose(_ draft: MessageDraft, date: Date = Date()) throws(MessageDraftError) -> ComposedMessage {
        var generator = SystemRandomNumberGenerator()
        return try compose(draft, date: date, using: &generator)
    }

    /// Validates `draft` and writes it, drawing the `Message-ID` and the boundaries from
    /// `generator` (tests pass a seeded one).
    /// - Throws: ``MessageDraftError`` listing every invalid field.
    public func compose(
        _ draft: MessageDraft, date: Date, using generator: inout some RandomNumberGenerator
    ) throws(MessageDraftError) -> ComposedMessage {
        let recipients = try validate(draft)
        let messageID = "<\(Self.randomToken(using: &generator))@\(messageIDDomain)>"
        var head = "Date: \(RFC5322Date.format(date))\r\n"
        head += MIMEWriter.addressField("From", [draft.from])
        if !draft.replyTo.isEmpty { head += MIMEWriter.addressField("Reply-To", draft.replyTo) }
        if draft.to.isEmpty, draft.cc.isEmpty {
            // RFC 5322 §3.6.3 allows no destination field; an empty group tells readers why.
            head += "To: undisclosed-recipients:;\r\n"
        }
        if !draft.to.isEmpty { head += MIMEWriter.addressField("To", draft.to) }
        if !draft.cc.isEmpty { head += MIMEWriter.addressField("Cc", draft.cc) }
        if let subject = draft.subject, !subject.isEmpty { head += MIMEWriter.unstructuredField("Subject", subject) }
        head += "Message-ID: \(messageID)\r\n"
        head += "MIME-Version: 1.0\r\n"
        for field in draft.headers {
            // An extra field may be structured (In-Reply-To, List-Unsubscribe): ASCII is kept as
            // written; only non-ASCII text becomes encoded-words.
            head += MIMEWriter.unstructuredField(field.name, field.value, encodingLookalikes: false)
        }

        var body = bodyPart(text: draft.text, html: draft.html, using: &generator)
        if !draft.attachments.isEmpty {
            let parts = [body] + draft.attachments.map(Self.attachmentPart)
            body = Self.multipart("mixed", parts, using: &generator)
        }
        let bytes = Array(head.utf8) + body.headers + [0x0D, 0x0A] + body.content
        return ComposedMessage(messageID: messageID, reversePath: draft.from.address, recipients: recipients, bytes: bytes)
    }

    // MARK: - Structure

    /// A body part: its header fields (each ending in CRLF) and its encoded content.
    private struct Part {
        var headers: [UInt8]
        var content: [UInt8]
    }

    private func bodyPart(text: String?, html: String?, using generator: inout some RandomNumberGenerator) -> Part {
        switch (text, html) {
        case (let text?, let html?):
            return Self.multipart("alternative", [Self.textPart("plain", text), Self.textPart("html", html)], using: &generator)
        case (nil, let html?):
            return Self.textPart("html", html)
        case (let text, nil):
            return Self.textPart("plain", text ?? "")
        }
    }

    private static func textPart(_ subtype: String, _ text: String) -> Part {
        let headers = "Content-Type: text/\(subtype); charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n"
        return Part(headers: Array(headers.utf8), content: MIMEWriter.quotedPrintable(text: text))
    }

    private static func attachmentPart(_ attachment: MessageDraft.Attachment) -> Part {
        var typePieces = [attachment.contentType.lowercased()]
        var dispositionPieces = ["attachment"]
        if let filename = attachment.filename, !filename.isEmpty {
            // `name` on Content-Type for readers that predate RFC 2183's `filename`.
            typePieces += MIMEWriter.parameter("name", filename)
            dispositionPieces += MIMEWriter.parameter("filename", filename)
        }
        var headers = MIMEWriter.field("Content-Type", pieces: separatedParameters(typePieces))
        headers += MIMEWriter.field("Content-Disposition", pieces: separatedParameters(dispositionPieces))
        headers += "Content-Transfer-Encoding: base64\r\n"
        return Part(headers: Array(headers.utf8), content: MIMEWriter.base64(attachment.content))
    }

    /// The value and its parameters (or RFC 2231 segments) with the `;` between them.
    private static func separatedParameters(_ pieces: [String]) -> [String] {
        pieces.enumerated().map { position, piece in position == pieces.count - 1 ? piece : piece + ";" }
    }

    private static func multipart(_ subtype: String, _ parts: [Part], using generator: inout some RandomNumberGenerator) -> Part {
        let boundary = "=_" + randomToken(using: &generator)
        var content: [UInt8] = []
        for part in parts {
            content += Array("--\(boundary)\r\n".utf8) + part.headers + [0x0D, 0x0A] + part.content
        }
        content += Array("--\(boundary)--\r\n".utf8)
        let headers = "Content-Type: multipart/\(subtype);\r\n boundary=\"\(boundary)\"\r\n"
        return Part(headers: Array(headers.utf8), content: content)
    }

    /// 128 random bits as 32 lowercase hexadecimal digits.
    private static func randomToken(using generator: inout some RandomNumberGenerator) -> String {
        let high = generator.next(), low = generator.next()
        func hex(_ value: UInt64) -> String {
            let digits = String(value, radix: 16)
            return String(repeating: "0", count: 16 - digits.count) + digits
        }
        return hex(high) + hex(low)
    }

    // MARK: - Validation

    /// Checks every field and returns the envelope recipients: `to`, `cc`, `bcc` in order,
    /// each address once (compared case-insensitively).
    private func validate(_ draft: MessageDraft) throws(MessageDraftError) -> [String] {
        var problems: [MessageDraftError.Problem] = []
        func problem(_ field: String, _ message: String) {
            problems.append(.init(field: field, message: message))
        }
        func checkMailbox(_ mailbox: MailboxAddress, _ field: String) {
            if !DeliveryAddress.isValid(mailbox.address) {
                problem(field, "\(Self.shown(mailbox.address)) is not a valid address (local@domain, an unquoted local part and a domain name)")
            }
            if let name = mailbox.displayName {
                if let control = Self.controlCharacterProblem(name) { problem(field, "the name \(control)") }
                if name.count > limits.maximumDisplayNameLength {
                    problem(field, "the name is longer than \(limits.maximumDisplayNameLength) characters")
                }
            }
        }
        checkMailbox(draft.from, "from")
        let lists: [(String, [MailboxAddress])] = [("to", draft.to), ("cc", draft.cc), ("bcc", draft.bcc), ("reply_to", draft.replyTo)]
        for (name, list) in lists {
            for (index, mailbox) in list.enumerated() { checkMailbox(mailbox, "\(name)[\(index)]") }
        }
        var recipients: [String] = []
        var seen: Set<String> = []
        for mailbox in draft.to + draft.cc + draft.bcc where seen.insert(mailbox.address.lowercased()).inserted {
            recipients.append(mailbox.address)
        }
        if recipients.isEmpty { problem("to", "at least one recipient is needed in to, cc or bcc") }
        if recipients.count > limits.maximumRecipients {
            problem("to", "\(recipients.count) recipients; at most \(limits.maximumRecipients) are allowed")
        }
        if let subject = draft.subject {
            if let control = Self.controlCharacterProblem(subject) { problem("subject", control) }
            if subject.count > limits.maximumSubjectLength {
                problem("subject", "longer than \(limits.maximumSubjectLength) characters")
            }
        }
        if draft.text == nil, draft.html == nil { problem("text", "a text or an html body is needed") }
        validateAttachments(draft.attachments, problem: problem)
        validateHeaders(draft.headers, problem: problem)
        guard problems.isEmpty else { throw MessageDraftError(problems: problems) }
        return recipients
    }

    private func validateAttachments(_ attachments: [MessageDraft.Attachment], problem: (String, String) -> Void) {
        if attachments.count > limits.maximumAttachments {
            problem("attachments", "\(attachments.count) attachments; at most \(limits.maximumAttachments) are allowed")
        }
        for (index, attachment) in attachments.enumerated() {
            let field = "attachments[\(index)]"
            if let filename = attachment.filename {
                if let control = Self.controlCharacterProblem(filename) { problem(field + ".filename", control) }
                if filename.count > limits.maximumFilenameLength {
                    problem(field + ".filename", "longer than \(limits.maximumFilenameLength) characters")
                }
            }
            let type = attachment.contentType.lowercased()
            if !Self.isMediaType(type) {
                problem(field + ".content_type", "\(Self.shown(attachment.contentType)) is not a media type (type/subtype)")
            } else if type.hasPrefix("multipart/") || type.hasPrefix("message/") {
                // Both would need structure or an identity encoding (RFC 2046 §5); base64 of an
                // opaque file is neither.
                problem(field + ".content_type", "\(type) cannot be attached as a file; use application/octet-stream")
            }
        }
    }

    private func validateHeaders(_ headers: [MessageDraft.HeaderField], problem: (String, String) -> Void) {
        if headers.count > limits.maximumHeaderFields {
            problem("headers", "\(headers.count) fields; at most \(limits.maximumHeaderFields) are allowed")
        }
        for (index, header) in headers.enumerated() {
            let field = "headers[\(index)]"
            let lowered = header.name.lowercased()
            if !MIMEHeaderField.isValidName(header.name) {
                problem(field + ".name", "\(Self.shown(header.name)) is not a valid field name (printable ASCII without ':')")
            } else if Self.reservedHeaderNames.contains(lowered) || lowered.hasPrefix("content-") || lowered.hasPrefix("resent-") {
                problem(field + ".name", "\(header.name) is written by the composer or the mail system and cannot be set")
            } else if lowered.hasPrefix("x-filter-") {
                problem(field + ".name", "X-Filter-* fields belong to the filter")
            }
            if header.value.unicodeScalars.contains(where: { $0 == "\r" || $0 == "\n" || $0 == "\0" }) {
                problem(field + ".value", "contains CR, LF or NUL (header injection)")
            } else if let control = Self.controlCharacterProblem(header.value) {
                problem(field + ".value", control)
            }
            if header.name.count + 2 + header.value.count > limits.maximumHeaderFieldLength {
                problem(field, "longer than \(limits.maximumHeaderFieldLength) characters")
            }
        }
    }

    /// Why `text` cannot go in a header: it holds a control character (CR, LF and NUL would
    /// start new fields or cut the header; the others have no place in display text).
    private static func controlCharacterProblem(_ text: String) -> String? {
        guard let scalar = text.unicodeScalars.first(where: { $0.value < 0x20 || $0.value == 0x7F || (0x80..<0xA0).contains($0.value) })
        else { return nil }
        let kind = scalar == "\r" || scalar == "\n" || scalar == "\0" ? " (header injection)" : ""
        return "contains the control character U+\(String(format: "%04X", scalar.value))\(kind)"
    }

    /// `type/subtype` of RFC 2045 tokens.
    private static func isMediaType(_ text: String) -> Bool {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        let tspecials = Set("()<>@,;:\\\"/[]?=".unicodeScalars)
        return parts.count == 2 && parts.allSatisfy { part in
            !part.isEmpty && part.count <= 127 && part.unicodeScalars.allSatisfy { (33...126).contains($0.value) && !tspecials.contains($0) }
        }
    }

    /// `text` quoted for an error message, control characters escaped, cut at 100 characters.
    private static func shown(_ text: String) -> String {
        let escaped = text.prefix(100).unicodeScalars.map { $0.value < 0x20 || $0.value == 0x7F ? "\\u{\(String($0.value, radix: 16))}" : String($0) }
        return "\"" + escaped.joined() + (text.count > 100 ? "…" : "") + "\""
    }
}

/// A message written by ``MessageComposer``, with the envelope to submit it with.
public struct ComposedMessage: Sendable, Hashable {
    /// The `Message-ID`, with its angle brackets.
    public var messageID: String
    /// The envelope sender: the `From` address.
    public var reversePath: String
    /// The envelope recipients: `to`, `cc` and `bcc`, each once.
    public var recipients: [String]
    /// The message, CRLF line ends, not dot-stuffed.
    public var bytes: [UInt8]

    /// Creates a composed message.
    public init(messageID: String, reversePath: String, recipients: [String], bytes: [UInt8]) {
        self.messageID = messageID
        self.reversePath = reversePath
        self.recipients = recipients
        self.bytes = bytes
    }
}
