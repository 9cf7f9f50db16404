import FilterCore
import Foundation
import Testing

@testable import FilterEngine

@Suite struct HeaderRewriterTests {
    let message = """
        Received: from origin by filter.test; Tue, 24 Nov 2026 10:00:00 +0000\r
        From: a@example.org\r
        X-Filter-Verdict: action=pass; owner=forged@example.com\r
        x-filter-other: forged\r
         folded continuation of the forged field\r
        Subject: Hello\r
         world\r
        X-Spam-Flag: NO\r
        X-Spam-Status: No, score=0.1\r
        \r
        Body line\r
        X-Filter-Verdict: in the body stays\r

        """

    func rewritten(_ edits: HeaderEdits, message: String? = nil, allowUTF8: Bool = false) -> String {
        let bytes = Array((message ?? self.message).utf8)
        let offset = HeaderRewriter.bodyOffset(of: bytes)
        return String(decoding: HeaderRewriter.rewrite(Array(bytes[..<offset]), with: edits, allowUTF8: allowUTF8), as: UTF8.self)
    }

    @Test func theBodyStartsAfterTheEmptyLine() {
        let bytes = Array(message.utf8)
        let offset = HeaderRewriter.bodyOffset(of: bytes)
        #expect(String(decoding: bytes[offset...], as: UTF8.self) == "Body line\r\nX-Filter-Verdict: in the body stays\r\n")
        #expect(HeaderRewriter.bodyOffset(of: Array("A: b\nC: d\n\nbody".utf8)) == 11)
        #expect(HeaderRewriter.bodyOffset(of: Array("A: b\r\n".utf8)) == 6)
    }

    @Test func forgedFilterFieldsGoAndTheVerdictIsAddedLast() {
        let output = rewritten(HeaderEdits(verdict: "action=pass; owner=bob@example.com; source=client"))
        #expect(output == """
            Received: from origin by filter.test; Tue, 24 Nov 2026 10:00:00 +0000\r
            From: a@example.org\r
            Subject: Hello\r
             world\r
            X-Spam-Flag: NO\r
            X-Spam-Status: No, score=0.1\r
            X-Filter-Verdict: action=pass; owner=bob@example.com; source=client\r
            \r

            """)
    }

    @Test func spamReplacesEveryXSpamFieldAndTagsTheSubject() {
        var edits = HeaderEdits(verdict: "action=spam; owner=bob@example.com; source=client")
        edits.spamScore = .init(score: 7.25)
        edits.subjectTag = "[SPAM]"
        edits.addedFields = [.init(name: "X-Spam-Report", value: "BAYES_99")]
        let output = rewritten(edits)
        #expect(output.contains("Subject: [SPAM] Hello\r\n world\r\n"))
        #expect(!output.contains("X-Spam-Flag: NO"))
        #expect(!output.contains("X-Spam-Status: No"))
        #expect(output.hasSuffix("X-Spam-Report: BAYES_99\r\nX-Spam-Flag: YES\r\nX-Spam-Score: 7.2\r\nX-Spam-Status: Yes, score=7.2\r\nX-Filter-Verdict: action=spam; owner=bob@example.com; source=client\r\n\r\n"))
    }

    @Test func aTagIsNotAddedTwice() {
        var edits = HeaderEdits(verdict: "v")
        edits.subjectTag = "[SPAM]"
        let output = rewritten(edits, message: "Subject: [SPAM] again\r\n\r\nbody")
        #expect(output == "Subject: [SPAM] again\r\nX-Filter-Verdict: v\r\n\r\n")
    }

    @Test func aMissingSubjectIsAddedWithTheTag() {
        var edits = HeaderEdits(verdict: "v")
        edits.subjectTag = "[SPAM]"
        #expect(rewritten(edits, message: "From: a@b.example\n\nbody") == "From: a@b.example\r\nSubject: [SPAM]\r\nX-Filter-Verdict: v\r\n\r\n")
    }

    /// A non-ASCII tag becomes an encoded-word; before an encoded subject it carries the space
    /// inside, because white space between encoded-words is not displayed.
    @Test(arguments: [
        ("Subject: =?UTF-8?B?w6nDqQ==?=\r\n\r\n", "Subject: =?UTF-8?B?W1Nww6BtXSA=?= =?UTF-8?B?w6nDqQ==?=\r\n"),
        ("Subject: plain\r\n\r\n", "Subject: =?UTF-8?B?W1Nww6BtXQ==?= plain\r\n"),
    ])
    func nonASCIITagsAreEncodedWords(message: String, expected: String) {
        var edits = HeaderEdits(verdict: "v")
        edits.subjectTag = "[Spàm]"
        #expect(rewritten(edits, message: message).hasPrefix(expected))
        #expect(rewritten(edits, message: message, allowUTF8: true).hasPrefix("Subject: [Spàm] "))
    }

    @Test func addedNonASCIIValuesAreEncodedUnlessSMTPUTF8() {
        var edits = HeaderEdits(verdict: "v")
        edits.addedFields = [.init(name: "X-Note", value: "grüße")]
        #expect(rewritten(edits, message: "A: b\r\n\r\n").contains("X-Note: =?UTF-8?B?Z3LDvMOfZQ==?=\r\n"))
        #expect(rewritten(edits, message: "A: b\r\n\r\n", allowUTF8: true).contains("X-Note: grüße\r\n"))
    }
}

@Suite struct HeaderFieldPolicyTests {
    let policy = HeaderFieldPolicy()

    @Test(arguments: [
        ("X-Filter-Verdict", "action=pass", "X-Filter-* fields belong to the filter"),
        ("x-filter-anything", "v", "X-Filter-* fields belong to the filter"),
        ("Received", "from evil", "the filter does not let replies set Received"),
        ("Subject", "new subject", "the filter does not let replies set Subject"),
        ("Bad Name", "v", "not a valid field name (RFC 5322 ftext)"),
        ("X-Colon:", "v", "not a valid field name (RFC 5322 ftext)"),
        ("", "v", "not a valid field name (RFC 5322 ftext)"),
        ("X-Inject", "ok\r\nX-Filter-Verdict: forged", "the value contains CR, LF or NUL (header injection)"),
        ("X-Inject", "ok\nBcc: victim@example.com", "the value contains CR, LF or NUL (header injection)"),
        ("X-Long", String(repeating: "a", count: 900), "longer than 900 characters"),
    ])
    func refusals(name: String, value: String, reason: String) {
        let (accepted, refused) = policy.sanitize([.init(name: name, value: value)])
        #expect(accepted.isEmpty)
        #expect(refused.map(\.reason) == [reason])
    }

    @Test func validFieldsPassAndTabsBecomeSpaces() {
        let (accepted, refused) = policy.sanitize([.init(name: "X-Rule", value: "matched\tnewsletter"), .init(name: "X-Spam-Report", value: "r")])
        #expect(refused.isEmpty)
        #expect(accepted.map(\.value) == ["matched newsletter", "r"])
    }

    @Test func theCountIsLimited() {
        let fields = (0..<25).map { FilterReply.HeaderField(name: "X-N\($0)", value: "v") }
        let (accepted, refused) = policy.sanitize(fields)
        #expect(accepted.count == 20)
        #expect(refused.count == 5)
        #expect(refused.first?.reason == "more than 20 fields")
    }

    @Test func tagsAreCleanedAndCut() {
        #expect(policy.sanitizeTag("[SPAM]\r\nBcc: x") == "[SPAM]  Bcc: x")
        #expect(policy.sanitizeTag("   ") == nil)
        #expect(policy.sanitizeTag(String(repeating: "x", count: 100))?.count == 64)
    }
}
