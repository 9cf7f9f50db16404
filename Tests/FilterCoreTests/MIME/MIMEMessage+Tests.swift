import Foundation
import Testing

@testable import FilterCore

@Suite struct MIMEMessageTests {
    @Test func nestedMultipartWithEnclosedMessage() throws {
        let message = try MIMEFixtures.message("nested.eml")
        #expect(message.subject == "Quarterly report")
        #expect(message.from == [MailboxAddress(displayName: "Jörg Müller", address: "joerg@example.org")])
        #expect(message.to == [
            MailboxAddress(displayName: "Bob", address: "bob@example.net"),
            MailboxAddress(displayName: "Smith, Carol", address: "carol@example.net"),
        ])
        #expect(message.cc == [])
        #expect(message.headers.values("Received") == ["from mx.example.org by filter.example.net; Thu, 26 Nov 2026 03:00:00 +0000"])

        let root = message.root
        #expect(root.contentType == "multipart/mixed")
        #expect(root.parameters["boundary"] == "outer")
        #expect(root.flattened.map(\.path) == ["", "1", "1.1", "1.2", "2", "3", "3.1", "3.1.1", "3.1.2"])
        #expect(root.flattened.map(\.contentType) == [
            "multipart/mixed", "multipart/alternative", "text/plain", "text/html", "application/pdf",
            "message/rfc822", "multipart/mixed", "text/plain", "text/csv",
        ])
        #expect(message.textBody == "Grüße aus Köln. This line is long and gets a soft break here.")
        #expect(message.htmlBody == "<p>Grüße aus <b>Köln</b></p>\n")

        let pdf = try #require(message.part("2"))
        #expect(pdf.filename == "Bericht für Q3.pdf")
        #expect(pdf.parameters["name"] == "ignored.pdf")
        #expect(pdf.transferEncoding == "base64")
        #expect(pdf.decodedSize == 1024)
        let pdfBytes: [UInt8] = (0..<1024).map { UInt8(truncatingIfNeeded: $0) }
        #expect(pdf.decodedBody == pdfBytes)
        #expect(pdf.text == nil)

        let enclosed = try #require(message.part("3.1"))
        #expect(enclosed.headers["Subject"] == "Weitergeleitet: Ärger")
        #expect(message.part("3.1.1")?.text == "Inner body.")
        #expect(message.part("3.1.2")?.text == "a,b\n1,2")
        #expect(message.part("1.1")?.charset == "utf-8")

        #expect(message.attachments.map(\.path) == ["2", "3", "3.1.2"])
        #expect(message.attachments.map(\.filename) == ["Bericht für Q3.pdf", nil, "data.csv"])
        #expect(message.defects == [])
        #expect(message.size == (try MIMEFixtures.bytes("nested.eml")).count)
    }

    @Test func preambleAndEpilogueAreNotParts() throws {
        let message = try MIMEFixtures.message("nested.eml")
        #expect(message.root.children.count == 3)
        #expect(message.part("1.2")?.decodedBody == Array("<p>Grüße aus <b>Köln</b></p>\n".utf8))
    }

    @Test func neverClosedBoundaryKeepsTheLastPart() throws {
        let message = try MIMEFixtures.message("unclosed-boundary.eml")
        #expect(message.root.children.count == 2)
        #expect(message.textBody == "first")
        let blob = try #require(message.attachments.first)
        #expect(blob.filename == "blob.bin")
        #expect(blob.decodedBody == Array(0...9))
        #expect(message.defectCodes == [.missingClosingBoundary])
        #expect(message.defects.first?.part == "")
    }

    @Test func multipartWithoutBoundaryIsReadAsText() throws {
        let message = try MIMEFixtures.message("missing-boundary.eml")
        #expect(message.root.contentType == "text/plain")
        #expect(message.root.children.isEmpty)
        #expect(message.textBody == "--whatever\nContent-Type: text/plain\n\ntext\n--whatever--\n")
        #expect(message.defectCodes == [.missingBoundary])
    }

    @Test func boundaryThatNeverOccursIsReadAsText() throws {
        let message = try MIMEFixtures.message("boundary-not-found.eml")
        #expect(message.root.contentType == "text/plain")
        #expect(message.textBody == "Just some text.\n--nevermind this is not a delimiter\n")
        #expect(message.defectCodes == [.boundaryNotFound])
    }

    @Test func brokenEncodingsDecodeAsFarAsPossible() throws {
        let message = try MIMEFixtures.message("broken-encodings.eml")
        #expect(message.root.children.count == 6)
        #expect(message.part("1")?.decodedBody == Array("Hello, world!".utf8))
        #expect(message.part("2")?.text == "a=b =ZZ csoftcontinued\nend")
        #expect(message.part("3")?.text == "café")
        #expect(message.part("3")?.charset == "x-klingon")
        #expect(message.part("4")?.text == "café crème")
        #expect(message.part("4")?.decodedBody == [0x63, 0x61, 0x66, 0xE9, 0x20, 0x63, 0x72, 0xE8, 0x6D, 0x65])
        #expect(message.part("5")?.text == "€ euro")
        #expect(message.part("6")?.contentType == "text/plain")
        #expect(message.part("6")?.text == "bad content type")
        #expect(message.defects.map { "\($0.part) \($0.code)" } == [
            "1 invalid-base64", "1 invalid-base64", "2 invalid-quoted-printable", "3 unknown-charset",
            "4 charset-mismatch", "5 unknown-transfer-encoding", "6 invalid-content-type",
        ])
        #expect(message.textBody == "a=b =ZZ csoftcontinued\nend")
    }

    @Test func rawEightBitHeaders() throws {
        let message = try MIMEFixtures.message("raw-8bit-headers.eml")
        #expect(message.subject == "Grüße, 日本")
        #expect(message.from == [MailboxAddress(displayName: "Renée Dupont", address: "renee@example.fr")])
        #expect(message.defectCodes == [.nonUTF8HeaderBytes])
        #expect(message.textBody == "body\n")
    }

    @Test func rfc2231FileNames() throws {
        let message = try MIMEFixtures.message("rfc2231.eml")
        #expect(message.root.children.map(\.filename) == ["日本語の file.pdf", "épé.png", "résumé.txt", "archive 2026.zip", nil])
        #expect(message.part("4")?.dispositionParameters["size"] == "3")
        #expect(message.part("2")?.disposition == "inline")
        #expect(message.attachments.map(\.path) == ["1", "2", "3", "4"])
        #expect(message.textBody == "inline text")
        #expect(message.defects == [])
    }

    @Test func encodedWordsAndAddressLists() throws {
        let message = try MIMEFixtures.message("encoded-words.eml")
        #expect(message.subject == "😀 and café€ sign plain abcéend")
        #expect(message.headers.first(named: "subject")?.rawValue.hasPrefix("=?utf-8?B?8J+Y?= =?utf-8?B?gA==?= and =?ISO") == true)
        #expect(message.headers["X-Not-Encoded"] == "a =?utf-8?q?no end")
        #expect(message.from == [MailboxAddress(displayName: "山田太郎", address: "taro@example.jp")])
        #expect(message.to == [
            MailboxAddress(address: "\"john doe\"@example.com"),
            MailboxAddress(displayName: "Jane Roe", address: "jane@example.com"),
            MailboxAddress(displayName: "Quoted", address: "plain@example.com"),
            MailboxAddress(address: "routed@example.com"),
            MailboxAddress(address: "broken@"),
        ])
        #expect(message.replyTo == [MailboxAddress(displayName: "André Pirard", address: "PIRARD@vm1.ulg.ac.be")])
        #expect(message.defects.map { "\($0.code) \($0.detail)" } == [
            "invalid-encoded-word =?utf-8?b?w6k*?= in Subject",
            "unknown-charset charset x-unknown in an encoded-word of Subject",
            "invalid-address To: broken@ has no domain",
        ])
    }

    @Test func digestPartsDefaultToEnclosedMessages() throws {
        let message = try MIMEFixtures.message("digest.eml")
        #expect(message.root.children.map(\.contentType) == ["message/rfc822", "message/rfc822"])
        #expect(message.part("1.1")?.headers["Subject"] == "first")
        #expect(message.part("2.1")?.text == "two")
        #expect(message.textBody == nil)
        #expect(message.attachments.isEmpty)
    }

    @Test func singlePartMessageWithLFLineEnds() {
        let message = MIMEMessage(bytes: Array("Subject: hi\nContent-Type: text/html; charset=iso-8859-1\n\n<b>caf\u{E9}</b>\n".utf8))
        #expect(message.subject == "hi")
        #expect(message.root.contentType == "text/html")
        #expect(message.htmlBody == "<b>cafÃ©</b>\n")
        #expect(message.textBody == nil)
        #expect(message.defects == [])
    }

    @Test func messageWithoutBodyOrHeaders() {
        #expect(MIMEMessage(bytes: []).root.decodedSize == 0)
        #expect(MIMEMessage(bytes: []).textBody == "")
        let headerOnly = MIMEMessage(bytes: Array("Subject: x".utf8))
        #expect(headerOnly.subject == "x")
        #expect(headerOnly.root.decodedBody == [])
        let bodyOnly = MIMEMessage(bytes: Array("\r\nno header".utf8))
        #expect(bodyOnly.headers.isEmpty)
        #expect(bodyOnly.textBody == "no header")
    }

    @Test func deepNestingStopsAtTheLimit() {
        var text = ""
        for level in 0..<100 {
            text += "Content-Type: multipart/mixed; boundary=b\(level)\n\n--b\(level)\n"
        }
        text += "Content-Type: text/plain\n\ndeep\n"
        let message = MIMEMessage(bytes: Array(text.utf8), limits: MIMELimits(maxDepth: 10))
        let parts = message.root.flattened
        #expect(parts.count == 11)
        #expect(parts.last?.path == "1.1.1.1.1.1.1.1.1.1")
        #expect(message.defects.filter { $0.code == .nestingTooDeep }.count == 1)
        #expect(message.defects.filter { $0.code == .missingClosingBoundary }.count == 10)
    }

    @Test func defaultNestingLimitHandlesAThousandLevels() {
        var text = ""
        for level in 0..<1000 {
            text += "Content-Type: message/rfc822\n\n"
            _ = level
        }
        text += "Subject: innermost\n\nbody\n"
        let message = MIMEMessage(bytes: Array(text.utf8))
        #expect(message.root.flattened.count == MIMELimits().maxDepth + 1)
        #expect(message.defectCodes == [.nestingTooDeep])
    }

    @Test func partCountIsLimited() throws {
        var text = "Content-Type: multipart/mixed; boundary=b\n\n"
        for index in 0..<50 { text += "--b\n\npart \(index)\n" }
        text += "--b--\n"
        let message = MIMEMessage(bytes: Array(text.utf8), limits: MIMELimits(maxParts: 20))
        #expect(message.root.children.count == 19)
        #expect(message.root.children.last?.text == "part 18")
        #expect(message.defects.map(\.detail) == ["more than 20 parts; 31 part(s) of multipart/mixed left out"])

        let digest = MIMEMessage(bytes: try MIMEFixtures.bytes("digest.eml"), limits: MIMELimits(maxParts: 2))
        #expect(digest.root.flattened.map(\.path) == ["", "1"])
        #expect(digest.defects.map(\.detail) == [
            "more than 2 parts; 1 part(s) of multipart/digest left out", "more than 2 parts; the enclosed message left out",
        ])
    }

    @Test func nestedBoundaryExtendingTheOuterOneIsNotADelimiter() {
        let message = MIMEMessage(crlf: """
            Content-Type: multipart/mixed; boundary=abc

            --abc
            Content-Type: multipart/alternative; boundary=abc-1

            --abc-1

            inner one
            --abc-1--
            --abc
            
            outer two
            --abc--

            """)
        #expect(message.root.flattened.map(\.path) == ["", "1", "1.1", "2"])
        #expect(message.part("1.1")?.text == "inner one")
        #expect(message.part("2")?.text == "outer two")
        #expect(message.defects == [])
    }

    @Test func encodedEnclosedMessageIsDecodedFirst() {
        let inner = "Subject: inside\r\n\r\nhello\r\n"
        let encoded = Data(inner.utf8).base64EncodedString()
        let message = MIMEMessage(crlf: """
            Content-Type: message/rfc822
            Content-Transfer-Encoding: base64

            \(encoded)
            """)
        #expect(message.part("1")?.headers["Subject"] == "inside")
        #expect(message.part("1")?.text == "hello\n")
        #expect(message.defectCodes == [.encodedComposite])
    }

    @Test func viewIsSharedAcrossTasks() async {
        let message = MIMEMessage(crlf: "Content-Type: multipart/mixed; boundary=b\n\n--b\n\none\n--b--\n")
        let texts = await withTaskGroup(of: String?.self) { group in
            for _ in 0..<8 { group.addTask { message.textBody } }
            return await group.reduce(into: [String?]()) { $0.append($1) }
        }
        #expect(texts == Array(repeating: "one", count: 8))
    }
}

/// Mutated and truncated copies of the corpus: whatever the bytes, the view answers every
/// question without trapping, and every defect names a part that exists.
@Suite struct MIMEMessageRobustnessTests {
    /// A deterministic generator, so a failure reproduces (SplitMix64).
    private struct Generator: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var value = state
            value = (value ^ (value >> 30)) &* 0xBF58_476D_1CE4_E5B9
            value = (value ^ (value >> 27)) &* 0x94D0_49BB_1331_11EB
            return value ^ (value >> 31)
        }
    }

    private static let interesting: [[UInt8]] = [
        "\r\n", "\n", "--", "=?", "?=", "=", ":", ";", "\"", "(", ")", "<", ">", "@", ",", "*0*=", "%", "\\", " ", "\t",
        "Content-Type: multipart/mixed; boundary=x\n", "Content-Transfer-Encoding: base64\n", "message/rfc822",
    ].map { Array($0.utf8) }

    @Test(arguments: [
        "nested.eml", "unclosed-boundary.eml", "missing-boundary.eml", "boundary-not-found.eml", "broken-encodings.eml",
        "raw-8bit-headers.eml", "rfc2231.eml", "encoded-words.eml", "digest.eml",
    ])
    func mutatedMessagesNeverTrap(fixture: String) throws {
        let original = try MIMEFixtures.bytes(fixture)
        var generator = Generator(state: UInt64(original.count))
        for _ in 0..<300 {
            var bytes = original
            for _ in 0..<Int.random(in: 1...8, using: &generator) {
                let position = Int.random(in: 0...bytes.count, using: &generator)
                switch Int.random(in: 0..<4, using: &generator) {
                case 0: bytes.insert(contentsOf: Self.interesting.randomElement(using: &generator)!, at: position)
                case 1: if position < bytes.count { bytes[position] = UInt8.random(in: 0...255, using: &generator) }
                case 2: bytes.removeSubrange(position..<min(bytes.count, position + Int.random(in: 1...40, using: &generator)))
                default: bytes.removeSubrange(position...)
                }
            }
            let message = MIMEMessage(bytes: bytes)
            let paths = Set(message.root.flattened.map(\.path))
            _ = (message.subject, message.from, message.to, message.cc, message.replyTo, message.textBody, message.htmlBody)
            #expect(message.attachments.allSatisfy { paths.contains($0.path) })
            #expect(message.defects.allSatisfy { paths.contains($0.part) })
            #expect(!MIMEInspection(message).json().isEmpty)
        }
    }
}

/// The view and Python's `email` package (an independent parser) agree on realistic messages:
/// the benchmark's corpus generator (`scripts/bench/mime_corpus.py`), a small seeded corpus.
@Suite struct MIMEMessagePythonAgreementTests {
    private struct PythonView: Decodable {
        struct Attachment: Decodable, Equatable {
            var filename: String?
            var size: Int?
        }
        var name: String
        var subject: String
        var fromNames: [String]
        var toAddresses: [String]
        var text: String?
        var html: String?
        var attachments: [Attachment]
    }

    private static func python(_ arguments: [String]) throws -> Data {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3"] + arguments
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        try #require(process.terminationStatus == 0, "python3 \(arguments.joined(separator: " ")) failed")
        return data
    }

    @Test func agreesWithPythonOnTheBenchmarkCorpus() throws {
        let root = MIMEFixtures.directory.deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent()
        let corpus = FileManager.default.temporaryDirectory.appendingPathComponent("mime-corpus-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: corpus) }
        _ = try Self.python([root.appendingPathComponent("scripts/bench/mime_corpus.py").path, corpus.path, "40", "11"])
        let expected = try JSONDecoder().decode(
            [PythonView].self,
            from: try Self.python([MIMEFixtures.directory.appendingPathComponent("python_view.py").path, corpus.path])
        )
        #expect(expected.count == 40)
        for view in expected {
            let message = MIMEMessage(bytes: Array(try Data(contentsOf: corpus.appendingPathComponent(view.name))))
            #expect(message.subject == view.subject, "\(view.name)")
            #expect(message.from.map { $0.displayName ?? "" } == view.fromNames, "\(view.name)")
            #expect(message.to.map(\.address) == view.toAddresses, "\(view.name)")
            #expect(message.textBody == view.text, "\(view.name)")
            #expect(message.htmlBody == view.html, "\(view.name)")
            let attachments = message.root.children.filter(\.isAttachment).map {
                PythonView.Attachment(filename: $0.filename, size: $0.isEnclosedMessage ? nil : $0.decodedSize)
            }
            #expect(attachments == view.attachments, "\(view.name)")
            #expect(message.defects == [], "\(view.name)")
        }
        #expect(expected.contains { !$0.attachments.isEmpty } && expected.contains { $0.html != nil })
    }
}
