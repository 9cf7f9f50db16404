import Foundation

/// A short automatic text message the server writes itself: quarantine notices and digests.
///
/// The result is RFC 5322 with a MIME `text/plain; charset=utf-8` body in quoted-printable (so
/// it is 7-bit clean on any path), CRLF line ends, `Auto-Submitted: auto-generated` (RFC 3834)
/// so that well-behaved software does not answer it, and a `Message-ID` and `Date`.
public struct NoticeMessage: Sendable, Hashable {
    /// The `From` address, for example `postmaster@mx.example.com`.
    public var from: String
    /// The `To` address.
    public var to: String
    /// The subject; non-ASCII text is written as RFC 2047 encoded-words.
    public var subject: String
    /// The text, lines separated by `\n`.
    public var text: String
    /// The host name for the `Message-ID`.
    public var hostname: String
    /// The `Date`.
    public var date: Date

    /// Creates a notice.
    public init(from: String, to: String, subject: String, text: String, hostname: String, date: Date = Date()) {
        self.from = from
        self.to = to
        self.subject = subject
        self.text = text
        self.hostname = hostname
        self.date = date
    }

    /// The message's bytes.
    public func bytes() -> [UInt8] {
        var head = ""
        head += "From: \(from)\r\n"
        head += "To: \(to)\r\n"
        head += "Subject: \(Self.unstructured(subject))\r\n"
        head += "Date: \(RFC5322Date.format(date))\r\n"
        head += "Message-ID: <\(UUID().uuidString.lowercased())@\(hostname)>\r\n"
        head += "Auto-Submitted: auto-generated\r\n"
        head += "MIME-Version: 1.0\r\n"
        head += "Content-Type: text/plain; charset=utf-8\r\n"
        head += "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
        return Array(head.utf8) + Self.quotedPrintable(text)
    }

    /// `text` as header text: as it is when printable ASCII, else RFC 2047 `B` encoded-words of
    /// whole characters (``MIMEWriter/encodedWords(_:firstRoom:)``), one per line.
    public static func unstructured(_ text: String) -> String {
        if text.unicodeScalars.allSatisfy({ (32...126).contains($0.value) }) { return text }
        return MIMEWriter.encodedWords(text).joined(separator: "\r\n ")
    }

    /// `text` in quoted-printable (``MIMEWriter/quotedPrintable(text:)``): lines at most 76
    /// characters, CRLF line ends.
    public static func quotedPrintable(_ text: String) -> [UInt8] {
        MIMEWriter.quotedPrintable(text: text)
    }
}
