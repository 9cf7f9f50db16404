import Foundation
import Testing

@testable import FilterCore

@Suite struct SpoolEntryTests {
    @Test func finalityFollowsEveryRecipient() {
        let now = Date()
        var entry = SpoolEntry(
            queueID: QueueID.generate(),
            envelope: Envelope(mailFrom: "", recipients: [EnvelopeRecipient(address: "a@b"), EnvelopeRecipient(address: "c@d")]),
            receivedAt: now,
            messageSize: 10,
            recipients: [RecipientDelivery(state: .delivered, updatedAt: now), RecipientDelivery(state: .deferred, updatedAt: now)]
        )
        #expect(!entry.isFinal)
        entry.recipients[1].state = .failed
        #expect(entry.isFinal)
    }

    @Test func spoolFileRoundTripsWithStatesItDoesNotKnow() throws {
        let entry = SpoolEntry(
            queueID: QueueID.generate(),
            envelope: Envelope(
                mailFrom: "s@example.org",
                parameters: MailParameters(size: 42, body: .eightBitMIME, ret: .headers, envelopeID: "ab+2Bc"),
                recipients: [EnvelopeRecipient(address: "a@b", notify: [.failure], originalRecipient: "rfc822;a@b")],
                client: ClientInfo(name: "mx.example.net", address: "IPV6:2001:db8::1")
            ),
            receivedAt: Date(timeIntervalSince1970: 1_700_000_000.125),
            messageSize: 42,
            recipients: [
                RecipientDelivery(
                    state: RecipientState(name: "quarantined", isFinal: true),
                    detail: "held by policy",
                    updatedAt: Date(timeIntervalSince1970: 1_700_000_001.5)
                )
            ],
            attempts: 3,
            nextAttemptAt: Date(timeIntervalSince1970: 1_700_000_900)
        )
        let bytes = try Spool.encode(entry)
        let text = String(decoding: bytes, as: UTF8.self)
        #expect(text.contains(#""receivedAt":"2023-11-14T22:13:20.125Z""#))
        #expect(text.contains(#""final":true"#))
        let decoded = try Spool.decode(bytes, path: "test.env")
        #expect(decoded == entry)
        #expect(decoded.isFinal)
    }

    @Test func decodingRejectsMisalignedRecipientStates() throws {
        let entry = SpoolEntry(
            queueID: QueueID.generate(),
            envelope: Envelope(mailFrom: "", recipients: [EnvelopeRecipient(address: "a@b")]),
            receivedAt: Date(timeIntervalSince1970: 0),
            messageSize: 0,
            recipients: []
        )
        let bytes = try Spool.encode(entry)
        #expect(throws: SpoolError.self) { try Spool.decode(bytes, path: "x.env") }
    }
}
