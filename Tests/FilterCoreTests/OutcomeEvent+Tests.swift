import FilterCore
import Foundation
import Testing

/// The event body of wire protocol v1 (docs/protocol.md, "Events").
@Suite("OutcomeEvent")
struct OutcomeEventTests {
    /// 2026-11-26T09:14:08.500Z: half a second is exact in binary, so round trips compare equal.
    static let at = Date(timeIntervalSince1970: 1_795_684_448.5)

    static let denied = OutcomeEvent(
        id: "2VgL9q3Kx7aB2c9.0", queueID: "2VgL9q3Kx7aB2c9", owner: "alice@example.com",
        recipient: "Alice+news@Example.COM", sender: "news@shop.example", action: .deny, source: .client,
        state: "denied", reason: "sender blocked", at: at)

    @Test func isWrittenWithSortedKeysAndTheDocumentedNames() throws {
        let text = String(decoding: try Self.denied.wireJSON(), as: UTF8.self)
        #expect(
            text
                == #"{"action":"deny","at":"2026-11-26T09:14:08.500Z","id":"2VgL9q3Kx7aB2c9.0","owner":"alice@example.com","#
                + #""queueId":"2VgL9q3Kx7aB2c9","reason":"sender blocked","recipient":"Alice+news@Example.COM","#
                + #""sender":"news@shop.example","source":"client","state":"denied","type":"outcome","version":1}"#)
    }

    @Test func roundTripsWithEveryField() throws {
        var event = Self.denied
        event.detail = "250 2.0.0 Ok: queued as 4cXb1T0Zq2z9sWl"
        event.sender = ""
        #expect(try OutcomeEvent(wireJSON: try event.wireJSON()) == event)
    }

    @Test func unknownFieldsAreIgnored() throws {
        var text = String(decoding: try Self.denied.wireJSON(), as: UTF8.self)
        text.removeLast()
        text += #","tags":["later"]}"#
        #expect(try OutcomeEvent(wireJSON: Array(text.utf8)) == Self.denied)
    }

    @Test(arguments: [
        (#"{"version":2,"type":"outcome","id":"x"}"#, WireProtocolError.Code.wrongVersion, "version"),
        (#"{"version":1,"type":"outcome"}"#, .missingID, "id"),
        (
            #"{"version":1,"type":"digest","id":"x","queueId":"q","owner":"o","recipient":"r","sender":"","action":"pass","source":"client","state":"delivered","at":"2026-11-26T09:14:08Z"}"#,
            .invalidFieldType, "type"
        ),
        (
            #"{"version":1,"type":"outcome","id":"x","queueId":"q","owner":"o","recipient":"r","sender":"","action":"pass","source":"client","state":"delivered"}"#,
            .missingField, "at"
        ),
    ])
    func invalidBodiesAreRefused(body: String, code: WireProtocolError.Code, field: String) {
        #expect {
            try OutcomeEvent(wireJSON: Array(body.utf8))
        } throws: { error in
            guard let error = error as? WireProtocolError else { return false }
            return error.code == code && error.field == field
        }
    }
}
