import Foundation
import Testing

@testable import FilterQuarantine

@Suite struct MessageHeadersTests {
    @Test func findsAndUnfoldsAField() {
        let section = "From: a@example.test\r\nSubject: a long\r\n subject\r\n\tfolded\r\nTo: b@example.test"
        #expect(MessageHeaders.value(of: "subject", in: section) == "a long subject\tfolded")
        #expect(MessageHeaders.value(of: "To", in: section) == "b@example.test")
        #expect(MessageHeaders.value(of: "Cc", in: section) == nil)
    }

    @Test func headerSectionEndsAtTheFirstEmptyLine() {
        #expect(MessageHeaders.headerSection(of: Array("A: 1\r\nB: 2\r\n\r\nbody\r\n\r\nmore".utf8)) == "A: 1\r\nB: 2")
        #expect(MessageHeaders.headerSection(of: Array("A: 1\nB: 2\n\nbody".utf8)) == "A: 1\nB: 2")
        #expect(MessageHeaders.headerSection(of: Array("A: 1\r\n".utf8)) == "A: 1\r\n")
    }

    @Test(arguments: [
        ("plain text", "plain text"),
        ("=?UTF-8?B?w4RwZmVs?=", "Äpfel"),
        ("=?utf-8?q?caf=C3=A9_au_lait?=", "café au lait"),
        ("=?ISO-8859-1?Q?Gr=FC=DFe?= aus Bern", "Grüße aus Bern"),
        ("Re: =?UTF-8?B?w4RwZmVs?= =?UTF-8?B?IHVuZCBCaXJuZW4=?=", "Re: Äpfel und Birnen"),
        ("=?x-unknown?Q?abc?= stays", "=?x-unknown?Q?abc?= stays"),
        ("=?UTF-8?Q?broken=Z?=", "=?UTF-8?Q?broken=Z?="),
    ])
    func decodesSimpleEncodedWords(encoded: String, decoded: String) {
        #expect(MessageHeaders.decodeEncodedWords(encoded) == decoded)
    }
}
