import FilterCore
import Foundation
import Testing

@testable import FilterQuarantine

@Suite struct MessageHeadersTests {
    @Test func headerSectionEndsAtTheFirstEmptyLine() {
        #expect(MessageHeaders.headerSection(of: Array("A: 1\r\nB: 2\r\n\r\nbody\r\n\r\nmore".utf8)) == "A: 1\r\nB: 2")
        #expect(MessageHeaders.headerSection(of: Array("A: 1\nB: 2\n\nbody".utf8)) == "A: 1\nB: 2")
        #expect(MessageHeaders.headerSection(of: Array("A: 1\r\n".utf8)) == "A: 1\r\n")
    }

    /// A digest lists each subject as the MIME view reads it: unfolded, encoded words decoded.
    @Test(arguments: [
        ("Subject: plain text", "plain text"),
        ("From: a@example.test\r\nSubject: a long\r\n subject\r\nTo: b@example.test", "a long subject"),
        ("Subject: =?UTF-8?B?w4RwZmVs?=", "Äpfel"),
        ("Subject: =?utf-8?q?caf=C3=A9_au_lait?=", "café au lait"),
        ("Subject: =?ISO-8859-1?Q?Gr=FC=DFe?= aus Bern", "Grüße aus Bern"),
        ("Subject: Re: =?UTF-8?B?w4RwZmVs?= =?UTF-8?B?IHVuZCBCaXJuZW4=?=", "Re: Äpfel und Birnen"),
        ("From: a@example.test", nil),
    ] as [(String, String?)])
    func digestItemsReadTheSubject(headerSection: String, subject: String?) {
        let entry = QuarantineEntry(
            id: "Q.0", queueID: "Q", sender: "s@example.test", recipient: "r@example.test", owner: "r@example.test",
            action: .quarantine, reason: "r", receivedAt: Date(), quarantinedAt: Date(), expiresAt: Date(), size: 1,
            envelope: Envelope(mailFrom: "s@example.test", recipients: [EnvelopeRecipient(address: "r@example.test")]))
        #expect(QuarantineDigestComposer.Item(entry: entry, headerSection: headerSection).subject == subject)
    }
}
