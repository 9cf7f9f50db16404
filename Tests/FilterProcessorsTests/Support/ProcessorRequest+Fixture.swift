import FilterCore
import Foundation

@testable import FilterProcessors

extension ProcessorRequest {
    /// A request for one recipient with `message` as its raw bytes (LF line ends become CRLF).
    static func fixture(
        id: String = "Q1.0", from sender: String = "sender@example.org", to recipient: String = "alice@example.com",
        clientAddress: String? = "192.0.2.7", helo: String? = "mail.example.org", message: String = "Subject: test\n\nHello\n"
    ) -> ProcessorRequest {
        let bytes = Array(message.replacingOccurrences(of: "\r\n", with: "\n").replacingOccurrences(of: "\n", with: "\r\n").utf8)
        let metadata = FilterRequestMetadata(
            id: id, queueId: "Q1", received: Date(timeIntervalSince1970: 1_700_000_000),
            deadline: Date(timeIntervalSince1970: 1_700_000_060),
            envelope: .init(mailFrom: sender, recipient: recipient, owner: recipient),
            client: .init(name: "mail.example.org", address: clientAddress, helo: helo, protocol: "ESMTP"),
            size: bytes.count, truncated: false)
        return ProcessorRequest(metadata: metadata, rawMessage: bytes)
    }
}
