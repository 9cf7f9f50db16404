import FilterCore
import Foundation
import Testing

@Suite struct MessageComposerTests {
    let composer = MessageComposer(messageIDDomain: "mx.example.com")
    let date = Date(timeIntervalSince1970: 1_800_000_000)

    private func compose(_ draft: MessageDraft) throws -> (ComposedMessage, MIMEMessage) {
        let composed = try composer.compose(draft, date: date)
        return (composed, MIMEMessage(bytes: composed.bytes))
    }

    /// Every line ends in CRLF, is at most 998 octets, and the message is 7-bit.
    private func expectWellFormed(_ bytes: [UInt8], sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(bytes.allSatisfy { $0 < 128 && $0 != 0 }, sourceLocation: sourceLocation)
        var lineLength = 0
        for (index, byte) in bytes.enumerated() {
            if byte == 0x0A {
                #expect(index > 0 && bytes[index - 1] == 0x0D, "bare LF at \(index)", sourceLocation: sourceLocation)
                lineLength = 0
            } else if byte == 0x0D {
                #expect(index + 1 < bytes.count && bytes[index + 1] == 0x0A, "bare CR at \(index)", sourceLocation: sourceLocation)
            } else {
                lineLength += 1
                #expect(lineLength <= 998, sourceLocation: sourceLocation)
            }
        }
        #expect(bytes.suffix(2) == [0x0D, 0x0A], sourceLocation: sourceLocation)
    }

    private func headerSection(_ bytes: [UInt8]) -> String {
        let text = String(decoding: bytes, as: UTF8.self)
        return String(text[..<text.range(of: "\r\n\r\n")!.lowerBound])
    }

    @Test func textOnlyIsOneQuotedPrintablePlainTextPart() throws {
        let text = "Hallo Anna,\n\nhier ist die Übersicht – mit einer sehr langen Zeile, die weit über sechsundsiebzig Zeichen hinausgeht und umbrochen werden muss.\n. a line with a leading dot\nend "
        let (composed, message) = try compose(MessageDraft(
            from: MailboxAddress(address: "joerg@example.com"), to: [MailboxAddress(address: "anna@example.org")],
            subject: "Hello", text: text))
        expectWellFormed(composed.bytes)
        #expect(message.root.contentType == "text/plain")
        #expect(message.root.charset == "utf-8")
        #expect(message.root.transferEncoding == "quoted-printable")
        #expect(message.textBody?.replacingOccurrences(of: "\r\n", with: "\n") == text + "\n")
        #expect(message.headers["MIME-Version"] == "1.0")
        #expect(message.headers["Date"] == RFC5322Date.format(date))
        #expect(message.subject == "Hello")
        #expect(message.defects.isEmpty, "\(message.defects)")
        let whole = String(decoding: composed.bytes, as: UTF8.self)
        let body = whole[whole.range(of: "\r\n\r\n")!.upperBound...]
        #expect(body.split(separator: "\r\n").allSatisfy { $0.utf8.count <= 76 })
    }

    @Test func messageIDIsRandomAtTheConfiguredDomain() throws {
        let draft = MessageDraft(from: MailboxAddress(address: "a@example.com"), to: [MailboxAddress(address: "b@example.com")], text: "x")
        let first = try composer.compose(draft, date: date)
        let second = try composer.compose(draft, date: date)
        #expect(first.messageID != second.messageID)
        #expect(first.messageID.wholeMatch(of: /<[0-9a-f]{32}@mx\.example\.com>/) != nil)
        #expect(MIMEMessage(bytes: first.bytes).headers["Message-ID"] == first.messageID)
        #expect(first.reversePath == "a@example.com")
    }

    @Test func textAndHTMLAreAlternatives() throws {
        let (composed, message) = try compose(MessageDraft(
            from: MailboxAddress(address: "a@example.com"), to: [MailboxAddress(address: "b@example.com")],
            text: "plain", html: "<p>rich &amp; <b>bold</b></p>"))
        expectWellFormed(composed.bytes)
        #expect(message.root.contentType == "multipart/alternative")
        #expect(message.root.children.map(\.contentType) == ["text/plain", "text/html"])
        #expect(message.textBody == "plain")
        #expect(message.htmlBody == "<p>rich &amp; <b>bold</b></p>")
        #expect(message.defects.isEmpty, "\(message.defects)")
    }

    @Test func attachmentsGoInMultipartMixedAndRoundTrip() throws {
        var bytes: [UInt8] = []
        for index in 0..<5000 { bytes.append(UInt8(truncatingIfNeeded: index * 7 + index / 256)) }
        let longName = "Übersicht der Quartalszahlen für März – endgültige Fassung mit allen Anhängen und Korrekturen.pdf"
        let (composed, message) = try compose(MessageDraft(
            from: MailboxAddress(address: "a@example.com"), to: [MailboxAddress(address: "b@example.com")],
            text: "see attached", html: "<p>see attached</p>",
            attachments: [
                .init(filename: "data.bin", content: bytes),
                .init(filename: longName, contentType: "application/PDF", content: Array("%PDF-1.4\n".utf8)),
                .init(filename: "na\"me\\.txt", contentType: "text/plain", content: Array("q".utf8)),
            ]))
        expectWellFormed(composed.bytes)
        #expect(message.root.contentType == "multipart/mixed")
        #expect(message.root.children.map(\.contentType) == ["multipart/alternative", "application/octet-stream", "application/pdf", "text/plain"])
        let attachments = message.attachments
        #expect(attachments.map(\.filename) == ["data.bin", longName, "na\"me\\.txt"])
        #expect(attachments.map(\.transferEncoding) == ["base64", "base64", "base64"])
        #expect(attachments.first?.decodedBody == bytes)
        #expect(attachments.dropFirst().first?.decodedBody == Array("%PDF-1.4\n".utf8))
        #expect(attachments.dropFirst().first?.parameters["name"] == longName)
        #expect(message.textBody == "see attached")
        #expect(message.defects.isEmpty, "\(message.defects)")
        #expect(String(decoding: composed.bytes, as: UTF8.self).contains("filename*0*=utf-8''%C3%9Cbersicht"))
    }

    @Test func nonASCIINamesAndSubjectAreEncodedWordsThatDecode() throws {
        let subject = "Grüße aus Köln – 東京からのお知らせ, with a long tail of words that has to be folded over several lines"
        let (composed, message) = try compose(MessageDraft(
            from: MailboxAddress(displayName: "Jörg Müller", address: "joerg@example.com"),
            to: [MailboxAddress(displayName: "Anna Ångström", address: "anna@example.org"), MailboxAddress(displayName: "Smith, John", address: "john@example.org")],
            cc: [MailboxAddress(displayName: "Plain Name", address: "plain@example.org")],
            replyTo: [MailboxAddress(displayName: "=?utf-8?q?not_a_word?=", address: "reply@example.com")],
            subject: subject, text: "x"))
        expectWellFormed(composed.bytes)
        let header = headerSection(composed.bytes)
        for line in header.components(separatedBy: "\r\n") { #expect(line.utf8.count <= 78, "\(line)") }
        for word in header.matches(of: /=\?[^?]+\?[BbQq]\?[^?]*\?=/) { #expect(word.output.count <= 75) }
        #expect(message.subject == subject)
        #expect(message.from == [MailboxAddress(displayName: "Jörg Müller", address: "joerg@example.com")])
        #expect(message.to.map(\.displayName) == ["Anna Ångström", "Smith, John"])
        #expect(message.to.map(\.address) == ["anna@example.org", "john@example.org"])
        #expect(message.cc == [MailboxAddress(displayName: "Plain Name", address: "plain@example.org")])
        #expect(message.replyTo.first?.displayName == "=?utf-8?q?not_a_word?=")
        #expect(header.contains("\"Smith, John\"\r\n <john@example.org>"))
    }

    @Test func bccIsInTheEnvelopeOnlyAndRecipientsAreUnique() throws {
        let (composed, message) = try compose(MessageDraft(
            from: MailboxAddress(address: "a@example.com"),
            to: [MailboxAddress(address: "b@example.com")], cc: [MailboxAddress(address: "B@example.com"), MailboxAddress(address: "c@example.com")],
            bcc: [MailboxAddress(address: "secret@example.net")], text: "x"))
        #expect(composed.recipients == ["b@example.com", "c@example.com", "secret@example.net"])
        #expect(!String(decoding: composed.bytes, as: UTF8.self).contains("secret"))
        #expect(message.headers["Bcc"] == nil)
    }

    @Test func onlyBlindRecipientsGetAnEmptyGroupAsTo() throws {
        let (composed, _) = try compose(MessageDraft(
            from: MailboxAddress(address: "a@example.com"), bcc: [MailboxAddress(address: "secret@example.net")], html: "<p>x</p>"))
        let header = headerSection(composed.bytes)
        #expect(header.contains("To: undisclosed-recipients:;"))
        #expect(!header.contains("secret"))
    }

    @Test func extraHeadersAreWrittenAndNonASCIIValuesEncoded() throws {
        let (_, message) = try compose(MessageDraft(
            from: MailboxAddress(address: "a@example.com"), to: [MailboxAddress(address: "b@example.com")], text: "x",
            headers: [.init(name: "In-Reply-To", value: "<abc@example.com>"), .init(name: "X-Note", value: "für dich")]))
        #expect(message.headers["In-Reply-To"] == "<abc@example.com>")
        #expect(message.headers["X-Note"] == "für dich")
    }

    @Test(arguments: [
        ("From", "headers[0].name"), ("bcc", "headers[0].name"), ("Content-Type", "headers[0].name"),
        ("Content-Anything", "headers[0].name"), ("Received", "headers[0].name"), ("Return-Path", "headers[0].name"),
        ("MIME-Version", "headers[0].name"), ("Message-ID", "headers[0].name"), ("Date", "headers[0].name"),
        ("X-Filter-Verdict", "headers[0].name"), ("Bad Name", "headers[0].name"), ("X-Colon:", "headers[0].name"),
    ])
    func reservedOrInvalidHeaderNamesAreRefused(name: String, field: String) {
        let draft = MessageDraft(
            from: MailboxAddress(address: "a@example.com"), to: [MailboxAddress(address: "b@example.com")], text: "x",
            headers: [.init(name: name, value: "v")])
        #expect(throws: MessageDraftError.self) { try composer.compose(draft) }
        do {
            _ = try composer.compose(draft)
        } catch {
            #expect(error.problems.map(\.field) == [field])
        }
    }

    @Test func headerInjectionIsRefusedEverywhere() {
        let draft = MessageDraft(
            from: MailboxAddress(displayName: "Eve\r\nBcc: victim@example.net", address: "eve@example.com"),
            to: [MailboxAddress(address: "b@example.com\r\nRCPT TO:<x@example.net>")],
            subject: "hi\r\nBcc: victim@example.net", text: "x",
            attachments: [.init(filename: "a\nb.txt", content: [1])],
            headers: [.init(name: "X-Ok", value: "v\r\nBcc: victim@example.net"), .init(name: "X-Nul", value: "a\0b")])
        do {
            _ = try composer.compose(draft)
            Issue.record("composed a message with CR/LF in its fields")
        } catch {
            #expect(error.problems.map(\.field) == ["from", "to[0]", "subject", "attachments[0].filename", "headers[0].value", "headers[1].value"])
            #expect(error.problems.allSatisfy { !$0.message.contains("\r") && !$0.message.contains("\n") })
        }
    }

    @Test func invalidDraftsNameEveryField() {
        var limits = MessageComposer.Limits()
        limits.maximumRecipients = 2
        let strict = MessageComposer(messageIDDomain: "mx.example.com", limits: limits)
        let draft = MessageDraft(
            from: MailboxAddress(address: "not an address"),
            to: [MailboxAddress(address: "a@example.com"), MailboxAddress(address: "b@example.com")],
            cc: [MailboxAddress(address: "c@example")], bcc: [MailboxAddress(address: "\"quoted\"@example.com")],
            replyTo: [MailboxAddress(address: "@example.com")],
            attachments: [.init(filename: "x", contentType: "text", content: []), .init(filename: "y", contentType: "message/rfc822", content: [])])
        do {
            _ = try strict.compose(draft)
            Issue.record("composed an invalid draft")
        } catch {
            #expect(error.problems.map(\.field) == [
                "from", "cc[0]", "bcc[0]", "reply_to[0]", "to", "text", "attachments[0].content_type", "attachments[1].content_type",
            ])
        }
        #expect(throws: MessageDraftError.self) { try composer.compose(MessageDraft(from: MailboxAddress(address: "a@example.com"), text: "x")) }
    }
}
