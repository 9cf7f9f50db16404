import Testing

@testable import FilterCore

@Suite struct MIMEHeadersTests {
    private func parse(_ text: String) -> (MIMEHeaders, body: String, defects: [MIMEDefect]) {
        let bytes = Array(text.utf8)
        var defects: [MIMEDefect] = []
        let result = MIMEHeaderParser.parse(bytes, range: bytes.indices, part: "", defects: &defects)
        return (result.headers, String(decoding: bytes[result.bodyStart...], as: UTF8.self), defects)
    }

    @Test func unfoldsAndTrims() {
        let (headers, body, defects) = parse("Subject:   a\r\n\tb\r\n  c  \r\nX-Empty:\r\nTo : x@y\r\n\r\nbody")
        #expect(headers.map(\.name) == ["Subject", "X-Empty", "To"])
        #expect(headers["subject"] == "a\tb  c")
        #expect(headers["x-empty"] == "")
        #expect(headers["TO"] == "x@y")
        #expect(headers["Missing"] == nil)
        #expect(body == "body")
        #expect(defects == [])
    }

    @Test func valuesInOrder() {
        let (headers, _, _) = parse("Received: one\nX: 1\nReceived: two\n\n")
        #expect(headers.values("received") == ["one", "two"])
        #expect(headers.count == 3)
    }

    @Test func lineThatIsNotAFieldStartsTheBody() {
        let (headers, body, defects) = parse("Subject: s\nthis is body\nmore\n")
        #expect(headers.map(\.name) == ["Subject"])
        #expect(body == "this is body\nmore\n")
        #expect(defects.map(\.code) == [.missingHeaderBodySeparator])
    }

    @Test func mboxFromLineAndLeadingContinuationAreIgnored() {
        let (headers, body, defects) = parse("From alice@example.com Thu Nov 26 03:00:00 2026\n  stray\nSubject: s\n\nb")
        #expect(headers.map(\.name) == ["Subject"])
        #expect(body == "b")
        #expect(defects.map(\.code) == [.invalidHeaderLine, .invalidHeaderLine])
    }

    @Test func oneMegabyteHeaderField() {
        let line = String(repeating: "x", count: 998)
        let folded = Array(repeating: line, count: 1050).joined(separator: "\r\n ")
        let message = MIMEMessage(bytes: Array("X-Huge: \(folded)\r\nSubject: after\r\n\r\nbody".utf8))
        #expect(message.headers["X-Huge"]?.utf8.count == 998 * 1050 + 1049)
        #expect(message.subject == "after")
        #expect(message.textBody == "body")
    }

    @Test func tenThousandFields() {
        var text = ""
        for index in 0..<10_000 { text += "X-Field-\(index): =?utf-8?q?value_\(index)?=\r\n" }
        text += "Subject: last\r\n\r\nbody"
        let message = MIMEMessage(bytes: Array(text.utf8))
        #expect(message.headers.count == 10_001)
        #expect(message.headers["X-Field-9999"] == "value 9999")
        #expect(message.subject == "last")
        #expect(message.root.contentType == "text/plain")
        #expect(message.defects == [])
    }

    @Test func manyUnterminatedEncodedWordMarkersStayLinear() {
        // No `?=` anywhere: each `=?` starts a word that never ends.
        let value = String(String(repeating: "=?utf-8?q?x ", count: 100_000).dropLast())
        let message = MIMEMessage(bytes: Array("Subject: \(value)\r\n\r\n".utf8))
        let unchanged = message.subject == value
        #expect(unchanged)
    }
}

@Suite struct EncodedWordsTests {
    private func decode(_ text: String) -> (String, [MIMEDefect.Code]) {
        var defects: [MIMEDefect] = []
        let decoded = EncodedWords.decode(text, defects: &defects, part: "", context: "Subject")
        return (decoded, defects.map(\.code))
    }

    @Test(arguments: [
        // RFC 2047 §8 examples.
        ("(=?ISO-8859-1?Q?a?=)", "(a)"),
        ("(=?ISO-8859-1?Q?a?= b)", "(a b)"),
        ("(=?ISO-8859-1?Q?a?= =?ISO-8859-1?Q?b?=)", "(ab)"),
        ("(=?ISO-8859-1?Q?a?=  =?ISO-8859-1?Q?b?=)", "(ab)"),
        ("(=?ISO-8859-1?Q?a?=\t  =?ISO-8859-1?Q?b?=)", "(ab)"),
        ("(=?ISO-8859-1?Q?a_b?=)", "(a b)"),
        ("(=?ISO-8859-1?Q?a?= =?ISO-8859-2?Q?_b?=)", "(a b)"),
        ("=?US-ASCII?Q?Keith_Moore?=", "Keith Moore"),
        ("=?ISO-8859-1?Q?Keld_J=F8rn_Simonsen?=", "Keld Jørn Simonsen"),
        // RFC 2231 §5 language suffix.
        ("=?US-ASCII*EN?Q?Keith_Moore?=", "Keith Moore"),
        // Lower-case encoding letters and hex digits, no separating whitespace.
        ("x=?utf-8?q?=c3=a9?=y", "xéy"),
        ("=?utf-8?b?w6k=?=", "é"),
        ("=?utf-8?b?w6k?=", "é"),
        ("=?iso-8859-5?b?tNDg?=", "Дар"),
        ("=?koi8-r?q?=F0=D2=C9=D7=C5=D4?=", "Привет"),
        ("=?windows-1251?q?=CF=F0=E8?=", "При"),
        ("=?iso-8859-15?q?=A4?=", "€"),
        // Not encoded-words.
        ("=?utf-8?x?abc?=", "=?utf-8?x?abc?="),
        ("=??q?abc?=", "=??q?abc?="),
        ("a =?utf-8?q?unterminated", "a =?utf-8?q?unterminated"),
        ("plain text", "plain text"),
    ])
    func decodes(raw: String, expected: String) {
        #expect(decode(raw) == (expected, []))
    }

    @Test func multiByteCharacterSplitAcrossWords() {
        #expect(decode("=?utf-8?q?=E2=82?= =?UTF-8?q?=AC?=") == ("€", []))
    }

    @Test func defectsForUnknownCharsetAndBadPayload() {
        #expect(decode("=?x-mac-klingon?q?caf=C3=A9?=") == ("café", [.unknownCharset]))
        #expect(decode("=?utf-8?q?caf=E9?=") == ("café", [.charsetMismatch]))
        #expect(decode("=?utf-8?q?a=Zb?=") == ("a=Zb", [.invalidEncodedWord]))
    }
}
