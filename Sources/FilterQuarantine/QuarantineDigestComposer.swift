import FilterCore
import Foundation

/// Composes the digest mail that tells a recipient what was quarantined for them: a pure
/// function of its inputs, RFC 5322 with a `text/plain; charset=utf-8` body in
/// quoted-printable, so it is 7-bit clean whatever the subjects contain.
public struct QuarantineDigestComposer: Sendable {
    /// The digest's `From:` address (default: `postmaster@<hostname>`).
    public var from: String
    /// The server's host name, the right-hand side of the `Message-ID`.
    public var hostname: String

    /// One listed entry with the subject read from its message.
    public struct Item: Sendable, Hashable {
        /// The entry.
        public var entry: QuarantineEntry
        /// The message's `Subject`, decoded; `nil` when it has none.
        public var subject: String?

        /// Creates an item.
        public init(entry: QuarantineEntry, subject: String?) {
            self.entry = entry
            self.subject = subject
        }

        /// Makes an item from an entry and its message's header section: the `Subject` as the
        /// MIME view reads it (unfolded, RFC 2047 decoded).
        public init(entry: QuarantineEntry, headerSection: String) {
            self.init(entry: entry, subject: MIMEMessage(bytes: Array((headerSection + "\r\n\r\n").utf8)).subject)
        }
    }

    /// Creates a composer.
    /// - Parameters:
    ///   - hostname: The server's host name.
    ///   - from: The `From:` address; `postmaster@<hostname>` when `nil`.
    public init(hostname: String, from: String? = nil) {
        self.hostname = hostname
        self.from = from ?? "postmaster@\(hostname)"
    }

    /// The digest for one recipient.
    /// - Parameters:
    ///   - recipient: Who the digest goes to (the `To:` and the envelope recipient).
    ///   - items: The entries to list, in order.
    ///   - date: The `Date:` of the digest.
    ///   - uniqueID: Makes the `Message-ID` unique; a new UUID by default.
    /// - Returns: The message, CRLF line ends.
    public func compose(
        recipient: String, items: [Item], date: Date, uniqueID: String = UUID().uuidString
    ) -> [UInt8] {
        let count = items.count
        let headers = [
            "From: Mail quarantine <\(from)>",
            "To: <\(recipient)>",
            "Subject: Quarantine digest: \(count) new message\(count == 1 ? "" : "s") held for you",
            "Date: \(RFC5322Date.format(date))",
            "Message-ID: <quarantine-digest.\(uniqueID)@\(hostname)>",
            "Auto-Submitted: auto-generated",
            "Precedence: bulk",
            "X-Auto-Response-Suppress: All",
            "MIME-Version: 1.0",
            "Content-Type: text/plain; charset=utf-8",
            "Content-Transfer-Encoding: quoted-printable",
        ]
        var body = [
            "Hello,",
            "",
            "\(count) message\(count == 1 ? " was" : "s were") addressed to <\(recipient.singleLine)> but held in",
            "quarantine instead of being delivered. Each is deleted automatically on the date",
            "shown. If one of them is a message you want, reply to this mail quoting its",
            "ID, or ask your postmaster (\(from)) to release it with the command shown.",
            "",
        ]
        for (number, item) in items.enumerated() {
            let entry = item.entry
            body += [
                "\(number + 1). ID:      \(entry.id)",
                "   Date:    \(RFC5322Date.format(entry.receivedAt))",
                "   From:    <\(entry.sender.singleLine)>",
                "   Subject: \(item.subject.map(\.singleLine) ?? "(none)")",
                "   Reason:  \(entry.action): \(entry.reason.singleLine)",
                "   Expires: \(RFC5322Date.format(entry.expiresAt))",
                "   Release with: filterctl quarantine release \(entry.id)",
                "",
            ]
        }
        body.append("This is an automatic message from \(hostname); please do not reply to it")
        body.append("except to ask for a release.")
        return Array((headers.joined(separator: "\r\n") + "\r\n\r\n").utf8) + NoticeMessage.quotedPrintable(body.joined(separator: "\n"))
    }
}
