import Testing

@testable import FilterCore

@Suite struct MIMETransferEncodingTests {
    private func decode(_ text: String, _ encoding: String?) -> (String, [String]) {
        var defects: [MIMEDefect] = []
        let bytes = MIMETransferEncoding.decode(Array(text.utf8)[...], encoding: encoding, defects: &defects, part: "1")
        return (String(decoding: bytes, as: UTF8.self), defects.map(\.detail))
    }

    @Test(arguments: [
        ("SGVsbG8sIHdvcmxkIQ==", "Hello, world!"),
        ("SGVs\r\nbG8s IHdv\tcmxk\nIQ==\r\n", "Hello, world!"),
        ("SGk=SGk=", "HiHi"),
        ("", ""),
    ])
    func base64(encoded: String, decoded: String) {
        #expect(decode(encoded, "base64") == (decoded, []))
    }

    @Test func base64Defects() {
        #expect(decode("SGVsbG8sIHdvcmxkIQ", "base64") == ("Hello, world!", ["base64 padding missing"]))
        #expect(decode("SG!k=", "base64") == ("Hi", ["1 byte(s) outside the base64 alphabet skipped"]))
        #expect(decode("SGkhS", "base64") == ("Hi!", ["a final single base64 character (6 bits) dropped"]))
    }

    @Test(arguments: [
        ("caf=C3=A9", "café"),
        ("caf=c3=a9", "café"),
        ("soft=\r\nbreak", "softbreak"),
        ("soft=\nbreak", "softbreak"),
        ("soft=  \r\nbreak", "softbreak"),
        ("trailing   \r\nspace\t\nkept inside", "trailing\r\nspace\nkept inside"),
        ("ends with soft=", "ends with soft"),
    ])
    func quotedPrintable(encoded: String, decoded: String) {
        #expect(decode(encoded, "quoted-printable") == (decoded, []))
    }

    @Test func quotedPrintableDefects() {
        #expect(decode("a=ZZb=4", "quoted-printable") == ("a=ZZb=4", ["2 '=' not followed by two hex digits kept as written"]))
    }

    @Test func identityAndUnknownEncodings() {
        #expect(decode("a=C3", nil) == ("a=C3", []))
        #expect(decode("a=C3", "8bit") == ("a=C3", []))
        #expect(decode("a=C3", "x-uuencode") == ("a=C3", ["Content-Transfer-Encoding x-uuencode is unknown; body taken as it is"]))
    }
}

@Suite struct MIMECharsetTests {
    @Test(arguments: [
        ("utf-8", [0xC3, 0xA9], "é"), ("UTF8", [0xC3, 0xA9], "é"), ("\"iso-8859-1\"", [0xE9], "é"),
        ("latin1", [0xE9], "é"), ("iso-8859-2", [0xB1], "ą"), ("iso-8859-7", [0xE1], "α"),
        ("windows-1250", [0x9A], "š"), ("windows-1252", [0x80], "€"), ("cp1252", [0x80], "€"),
        ("windows-1251", [0xC4], "Д"), ("koi8-r", [0xE4], "Д"), ("us-ascii", [0x41], "A"),
        ("shift_jis", [0x82, 0xA0], "あ"), ("gb2312", [0xC4, 0xE3, 0xBA, 0xC3], "你好"),
        ("big5", [0xA7, 0x41, 0xA6, 0x6E], "你好"), ("euc-kr", [0xBE, 0xC8, 0xB3, 0xE7], "안녕"),
        ("windows-1255", [0xF9], "ש"), ("iso-8859-16", [0xAA], "Ș"),
    ] as [(String, [UInt8], String)])
    func converts(charset: String, bytes: [UInt8], text: String) {
        let decoded = MIMECharset.decode(bytes[...], charset: charset)
        #expect(decoded.text == text)
        #expect(decoded.defect == nil)
    }

    @Test func fallbacksKeepEveryByte() {
        #expect(MIMECharset.decode([0xE9][...], charset: "utf-8").text == "é")
        #expect(MIMECharset.decode([0xE9][...], charset: "utf-8").defect == .charsetMismatch)
        #expect(MIMECharset.decode([0xE9][...], charset: "us-ascii").defect == .charsetMismatch)
        #expect(MIMECharset.decode([0xC3, 0xA9][...], charset: "x-unknown").text == "é")
        #expect(MIMECharset.decode([0xC3, 0xA9][...], charset: "x-unknown").defect == .unknownCharset)
        #expect(MIMECharset.decode([0xFF, 0x00][...], charset: nil).text == "ÿ\u{0}")
        #expect(MIMECharset.decode([0xFF][...], charset: nil).defect == nil)
    }
}
