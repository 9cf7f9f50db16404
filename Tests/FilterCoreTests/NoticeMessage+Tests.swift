import FilterCore
import Foundation
import Testing

@Suite struct NoticeMessageTests {
    @Test func longLinesGetSoftBreaksAndTrailingSpaceIsEncoded() {
        let encoded = String(decoding: NoticeMessage.quotedPrintable(String(repeating: "é", count: 60) + " end "), as: UTF8.self)
        #expect(encoded.split(separator: "\r\n").allSatisfy { $0.utf8.count <= 76 })
        #expect(encoded.hasSuffix("end=20\r\n"))
        #expect(encoded.contains("=C3=A9"))
    }

    @Test func theNoticeIsAutomaticSevenBitMail() {
        let notice = NoticeMessage(
            from: "MAILER-DAEMON@mx.example", to: "erin@example.com", subject: "Virus gefunden: Prüfung",
            text: "Zeile eins\nZeile zwei", hostname: "mx.example", date: Date(timeIntervalSince1970: 1_800_000_000))
        let text = String(decoding: notice.bytes(), as: UTF8.self)
        #expect(notice.bytes().allSatisfy { $0 < 128 })
        #expect(text.contains("Auto-Submitted: auto-generated\r\n"))
        #expect(text.contains("Subject: =?UTF-8?B?"))
        #expect(text.contains("Message-ID: <") && text.contains("@mx.example>\r\n"))
        #expect(text.hasSuffix("\r\n\r\nZeile eins\r\nZeile zwei\r\n"))
    }
}
