/// A message to be written by ``MessageComposer``: addresses, subject, bodies, attachments and
/// extra header fields, as a caller of the send API gives them. Nothing here is checked yet;
/// ``MessageComposer/compose(_:date:)`` validates it.
public struct MessageDraft: Sendable, Hashable {
    /// The author (`From`), also the envelope sender.
    public var from: MailboxAddress
    /// The `To` recipients.
    public var to: [MailboxAddress]
    /// The `Cc` recipients.
    public var cc: [MailboxAddress]
    /// The blind recipients: in the envelope, never in the header.
    public var bcc: [MailboxAddress]
    /// The `Reply-To` addresses.
    public var replyTo: [MailboxAddress]
    /// The subject; `nil` or empty writes no `Subject` field.
    public var subject: String?
    /// The plain text body.
    public var text: String?
    /// The HTML body.
    public var html: String?
    /// The attachments, in order.
    public var attachments: [Attachment]
    /// Extra header fields (`In-Reply-To`, `References`, `X-…`), in order.
    public var headers: [HeaderField]

    /// One attached file.
    public struct Attachment: Sendable, Hashable {
        /// The file name shown to the recipient; `nil` for none.
        public var filename: String?
        /// The media type, `type/subtype`; default `application/octet-stream`.
        public var contentType: String
        /// The file's bytes.
        public var content: [UInt8]

        /// Creates an attachment.
        public init(filename: String?, contentType: String = "application/octet-stream", content: [UInt8]) {
            self.filename = filename
            self.contentType = contentType
            self.content = content
        }
    }

    /// An extra header field.
    public struct HeaderField: Sendable, Hashable {
        /// The field name.
        public var name: String
        /// The field value, unfolded.
        public var value: String

        /// Creates a field.
        public init(name: String, value: String) {
            self.name = name
            self.value = value
        }
    }

    /// Creates a draft.
    public init(
        from: MailboxAddress, to: [MailboxAddress] = [], cc: [MailboxAddress] = [], bcc: [MailboxAddress] = [],
        replyTo: [MailboxAddress] = [], subject: String? = nil, text: String? = nil, html: String? = nil,
        attachments: [Attachment] = [], headers: [HeaderField] = []
    ) {
        self.from = from
        self.to = to
        self.cc = cc
        self.bcc = bcc
        self.replyTo = replyTo
        self.subject = subject
        self.text = text
        self.html = html
        self.attachments = attachments
        self.headers = headers
    }
}

/// Why a ``MessageDraft`` cannot be composed: every problem found, each naming the field as
/// the send API's JSON names it (`to[1]`, `attachments[0].filename`, `headers[2].name`).
public struct MessageDraftError: Error, Sendable, Hashable, CustomStringConvertible {
    /// One invalid field.
    public struct Problem: Sendable, Hashable, CustomStringConvertible {
        /// The field's path, e.g. `reply_to[0]`.
        public var field: String
        /// What is wrong with it, for the caller.
        public var message: String

        /// Creates a problem.
        public init(field: String, message: String) {
            self.field = field
            self.message = message
        }

        /// `field: message`.
        public var description: String { "\(field): \(message)" }
    }

    /// The problems, in the order of the draft's fields.
    public var problems: [Problem]

    /// Creates an error.
    public init(problems: [Problem]) {
        self.problems = problems
    }

    /// Every problem, for a log line.
    public var description: String {
        "the message cannot be composed: " + problems.map(\.description).joined(separator: "; ")
    }
}
