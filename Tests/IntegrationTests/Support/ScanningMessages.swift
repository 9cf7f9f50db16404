import FilterCore
import FilterProcessors
import Foundation

/// Messages for the scanning daemons' tests, and requests carrying them.
enum ScanningMessages {
    /// The GTUBE string (SpamAssassin's and rspamd's spam test pattern).
    static let gtube = "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X"
    /// The EICAR anti-virus test string.
    static let eicar = #"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"#

    static let headers = """
        From: Sender <sender@example.org>\r
        To: Alice <alice@example.com>\r
        Date: Thu, 26 Nov 2026 03:00:00 +0000\r
        Message-ID: <scan-test-1@mail.example.org>\r
        MIME-Version: 1.0\r

        """

    /// A message whose body is `body`.
    static func plain(subject: String, body: String) -> String {
        headers + "Subject: \(subject)\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n\(body)\r\n"
    }

    /// A short, ordinary note.
    static let ham = plain(subject: "Lunch tomorrow", body: "Shall we meet for lunch tomorrow at noon?\r\nSee you, Bob")

    /// The GTUBE in a body.
    static let spam = plain(subject: "Test spam", body: "This is the GTUBE:\r\n\(gtube)")

    /// The EICAR string as a base64 attachment of a multipart message.
    static var eicarAttachment: String {
        let encoded = Data(eicar.utf8).base64EncodedString(options: [.lineLength76Characters, .endLineWithCarriageReturn, .endLineWithLineFeed])
        return headers + """
            Subject: Invoice\r
            Content-Type: multipart/mixed; boundary="b1"\r
            \r
            --b1\r
            Content-Type: text/plain\r
            \r
            Please see the attachment.\r
            --b1\r
            Content-Type: application/octet-stream; name="invoice.com"\r
            Content-Transfer-Encoding: base64\r
            Content-Disposition: attachment; filename="invoice.com"\r
            \r
            \(encoded)\r
            --b1--\r

            """
    }

    /// A request for `message`, from a client at 192.0.2.7.
    static func request(_ message: String) -> ProcessorRequest {
        let bytes = Array(message.utf8)
        let metadata = FilterRequestMetadata(
            id: "SCAN1.0", queueId: "SCAN1", received: Date(), deadline: Date().addingTimeInterval(60),
            envelope: .init(mailFrom: "sender@example.org", recipient: "alice@example.com", owner: "alice@example.com"),
            client: .init(name: "mail.example.org", address: "192.0.2.7", helo: "mail.example.org", protocol: "ESMTP"),
            size: bytes.count, truncated: false)
        return ProcessorRequest(metadata: metadata, rawMessage: bytes)
    }
}
