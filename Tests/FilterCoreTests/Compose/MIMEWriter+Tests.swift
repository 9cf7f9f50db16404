import FilterCore
import Foundation
import Testing

@Suite struct MIMEWriterTests {
    @Test func plainSubjectsFoldAtSpacesKeepingEverySpace() {
        let text = "word " + String(repeating: "lorem ipsum ", count: 12) + " two  spaces"
        let field = MIMEWriter.unstructuredField("Subject", text)
        let lines = field.components(separatedBy: "\r\n").dropLast()
        #expect(lines.count > 1)
        #expect(lines.allSatisfy { $0.utf8.count <= 78 })
        #expect(lines.dropFirst().allSatisfy { $0.hasPrefix(" ") && !$0.trimmingCharacters(in: .whitespaces).isEmpty })
        #expect(field.replacingOccurrences(of: "\r\n", with: "") == "Subject: " + text.trimmingCharacters(in: .whitespaces))
    }

    @Test func encodedWordsHoldWholeCharactersAndFitTheLimit() {
        let text = String(repeating: "😀é", count: 40)
        let words = MIMEWriter.encodedWords(text, firstRoom: 60)
        #expect(words.allSatisfy { $0.count <= 75 })
        #expect(words[0].count <= 60)
        var defects: [MIMEDefect] = []
        let decoded = MailboxAddress.parseList("\(words.joined(separator: " ")) <a@example.com>", defects: &defects)
        #expect(decoded.first?.displayName == text)
        #expect(defects.isEmpty)
    }

    @Test func onlyWordsLongerThanALineAreEncoded() {
        let long = MIMEWriter.unstructuredField("Subject", String(repeating: "x", count: 1000))
        #expect(long.contains("=?UTF-8?B?"))
        #expect(long.components(separatedBy: "\r\n").allSatisfy { $0.utf8.count <= 78 })
        let url = "<https://lists.example.com/unsubscribe?" + String(repeating: "t", count: 120) + ">"
        #expect(MIMEWriter.unstructuredField("List-Unsubscribe", url, encodingLookalikes: false) == "List-Unsubscribe: \(url)\r\n")
    }

    @Test func encodedWordLookalikesAreEncodedOnlyWhenAsked() {
        #expect(MIMEWriter.unstructuredField("Subject", "a =?x?= b").contains("=?UTF-8?B?"))
        #expect(MIMEWriter.unstructuredField("X-Query", "a=?b", encodingLookalikes: false) == "X-Query: a=?b\r\n")
    }

    @Test func parametersUseRFC2231ContinuationsWhenLong() {
        #expect(MIMEWriter.parameter("filename", "a.txt") == ["filename=\"a.txt\""])
        #expect(MIMEWriter.parameter("filename", "ä.txt") == ["filename*=utf-8''%C3%A4.txt"])
        let pieces = MIMEWriter.parameter("filename", String(repeating: "ä", count: 40))
        #expect(pieces.count > 1)
        #expect(pieces[0].hasPrefix("filename*0*=utf-8''"))
        #expect(pieces[1].hasPrefix("filename*1*="))
        #expect(pieces.allSatisfy { $0.utf8.count <= 74 })
    }

    @Test func base64LinesAreAtMost76() {
        let encoded = String(decoding: MIMEWriter.base64(Array(repeating: 0xFF, count: 200)), as: UTF8.self)
        let lines = encoded.components(separatedBy: "\r\n")
        #expect(lines.dropLast().allSatisfy { $0.count <= 76 })
        #expect(lines.last == "")
    }

    @Test func quotedPrintableSplitsAnyLineEndAndEncodesTrailingWhitespace() {
        let encoded = String(decoding: MIMEWriter.quotedPrintable(text: "a \r\nb\t\rc=\n"), as: UTF8.self)
        #expect(encoded == "a=20\r\nb=09\r\nc=3D\r\n\r\n")
    }
}
