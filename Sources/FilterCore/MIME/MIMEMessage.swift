import Synchronization

/// A parsed, read-only view of a message (RFC 5322, MIME) over its raw bytes.
///
/// The top-level header is read when the view is created; the part tree, with decoded bodies
/// and texts, is built on first use of ``root`` (or anything that needs it) and kept. The view
/// never throws and never traps on malformed input: it builds the best reading it can and lists
/// what it had to guess in ``defects``. See `docs/mime.md`.
public final class MIMEMessage: Sendable {
    /// The message as given.
    public let bytes: [UInt8]
    /// The limits the part tree is built under.
    public let limits: MIMELimits
    /// The top-level header fields.
    public let headers: MIMEHeaders

    private let bodyStart: Int
    private let headerDefects: [MIMEDefect]
    private let tree = Mutex<MIMEPart?>(nil)

    /// Creates a view of a whole message, CRLF or LF line ends.
    /// - Parameters:
    ///   - bytes: The message: header, empty line, body.
    ///   - limits: Bounds on nesting and part count (defaults documented on ``MIMELimits``).
    public init(bytes: [UInt8], limits: MIMELimits = MIMELimits()) {
        self.bytes = bytes
        self.limits = limits
        var defects: [MIMEDefect] = []
        let header = MIMEHeaderParser.parse(bytes, range: bytes.indices, part: "", defects: &defects)
        headers = header.headers
        bodyStart = header.bodyStart
        headerDefects = defects
    }

    /// The raw size in bytes.
    public var size: Int { bytes.count }

    /// The part tree; the root is the message itself (its headers are ``headers``).
    public var root: MIMEPart {
        tree.withLock { cached in
            if let cached { return cached }
            var builder = MIMETreeBuilder(limits: limits)
            let part = builder.buildPart(
                bytes, headers: headers, bodyRange: bodyStart..<bytes.count, path: "", depth: 0,
                defaultType: "text/plain", defects: headerDefects
            )
            cached = part
            return part
        }
    }

    /// The decoded `Subject`, or `nil` when there is none.
    public var subject: String? { headers["Subject"] }

    /// The mailboxes of `From`.
    public var from: [MailboxAddress] { addresses("From") }
    /// The mailboxes of `To` (group members listed in place of their group).
    public var to: [MailboxAddress] { addresses("To") }
    /// The mailboxes of `Cc`.
    public var cc: [MailboxAddress] { addresses("Cc") }
    /// The mailboxes of `Reply-To`.
    public var replyTo: [MailboxAddress] { addresses("Reply-To") }

    /// The mailboxes of every top-level field called `field` (case-insensitive), in order.
    public func addresses(_ field: String) -> [MailboxAddress] {
        var ignored: [MIMEDefect] = []
        return addresses(field, defects: &ignored)
    }

    private func addresses(_ field: String, defects: inout [MIMEDefect]) -> [MailboxAddress] {
        headers.filter { $0.name.equalsIgnoringASCIICase(field) }.flatMap {
            MailboxAddress.parseList($0.rawValue, defects: &defects, field: field)
        }
    }

    /// The text of the first `text/plain` part that is not an attachment, outside enclosed
    /// messages (a forwarded message's body is not this message's body); `nil` when none.
    public var textBody: String? { firstBody("text/plain") }

    /// The text of the first `text/html` part that is not an attachment, outside enclosed messages.
    public var htmlBody: String? { firstBody("text/html") }

    /// Every attachment (``MIMEPart/isAttachment``), depth first, including those inside
    /// enclosed messages; a `message/rfc822` attachment is listed before its own attachments.
    public var attachments: [MIMEPart] {
        root.flattened.filter(\.isAttachment)
    }

    /// Every defect: the parts' in tree order, then those of the top-level address fields.
    public var defects: [MIMEDefect] {
        var all = root.flattened.flatMap(\.defects)
        for field in ["From", "Sender", "Reply-To", "To", "Cc", "Bcc"] {
            _ = addresses(field, defects: &all)
        }
        return all
    }

    private func firstBody(_ type: String) -> String? {
        func search(_ part: MIMEPart) -> String? {
            if part.isMultipart { return part.children.lazy.compactMap(search).first }
            guard part.contentType == type, !part.isAttachment else { return nil }
            return part.text
        }
        return search(root)
    }
}
