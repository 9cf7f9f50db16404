import FilterCore
import Foundation
import NIOCore
import Testing

@testable import FilterSMTP

/// What `Fixtures/parse_dsn.py` (Python's `email` package) found in a DSN.
struct ParsedDSN: Decodable {
    struct Part: Decodable {
        var contentType: String
        var cte: String?
        var charset: String?
    }
    struct Returned: Decodable {
        var headers: [String: String]
        var body: String?
    }
    var maxLine: Int
    var bareLineEnd: Bool
    var endsWithCRLF: Bool
    var eightBit: Bool
    var contentType: String
    var reportType: String?
    var boundary: String?
    var headers: [String: String]
    var defects: [String]
    var parts: [Part]
    var text: String?
    var perMessage: [String: String]?
    var recipients: [[String: String]]?
    var returned: Returned?

    /// The human-readable text with line breaks and runs of white space made single spaces,
    /// so that checks do not depend on where the text was wrapped.
    var flatText: String? { text.map { $0.split(whereSeparator: \.isWhitespace).joined(separator: " ") } }
}

struct PythonCheckerError: Error, CustomStringConvertible {
    var description: String
}

/// Runs the independent parser on `dsn`. Fails (never skips) when python3 is missing.
func parseWithPython(_ dsn: ComposedDSN) throws -> ParsedDSN {
    let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Fixtures/parse_dsn.py")
    let input = FileManager.default.temporaryDirectory.appendingPathComponent("dsn-\(UUID().uuidString).eml")
    try Data(dsn.message.readableBytesView).write(to: input)
    defer { try? FileManager.default.removeItem(at: input) }

    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["python3", script.path, input.path]
    let output = Pipe()
    let errors = Pipe()
    process.standardOutput = output
    process.standardError = errors
    try process.run()
    let data = output.fileHandleForReading.readDataToEndOfFile()
    let errorText = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    if process.terminationStatus == 127 {
        throw PythonCheckerError(description: "python3 is not installed (/usr/bin/env python3 exited 127): \(errorText)")
    }
    guard process.terminationStatus == 0 else {
        throw PythonCheckerError(description: "parse_dsn.py exited \(process.terminationStatus): \(errorText)")
    }
    return try JSONDecoder().decode(ParsedDSN.self, from: data)
}

/// Byte-level checks every DSN must pass, done in Swift.
func expectWellFormed(_ dsn: ComposedDSN, sourceLocation: SourceLocation = #_sourceLocation) {
    let bytes = Array(dsn.message.readableBytesView)
    var lineLength = 0
    var previous: UInt8 = 0
    for byte in bytes {
        if byte == 0x0A {
            #expect(previous == 0x0D, "bare LF", sourceLocation: sourceLocation)
            lineLength = 0
        } else if byte != 0x0D {
            #expect(previous != 0x0D, "bare CR", sourceLocation: sourceLocation)
            lineLength += 1
            #expect(lineLength <= 998, "line over 998 octets", sourceLocation: sourceLocation)
            if lineLength > 998 { return }
        }
        previous = byte
    }
    #expect(bytes.suffix(2) == [0x0D, 0x0A], sourceLocation: sourceLocation)
    #expect(dsn.mailFrom == "", sourceLocation: sourceLocation)
}

enum DSNFixtures {
    static let arrival = Date(timeIntervalSince1970: 1_764_000_000)
    static let now = Date(timeIntervalSince1970: 1_764_003_600)
    static let queueID = QueueID(rawValue: "Q1a2b3c4d5e6f7g")!
    static let composer = DSNComposer(reportingMTA: "filter.example.net", postmasterAddress: "postmaster@example.net")

    static let message = ByteBuffer(
        string: "From: Alice <alice@example.org>\r\nTo: bob@example.com\r\nSubject: Quarterly figures\r\n"
            + "Message-ID: <orig-1@example.org>\r\n\r\nHello Bob,\r\nthe figures are attached.\r\n")

    static func envelope(ret: DSNReturn? = nil, envid: String? = nil, smtpUTF8: Bool = false, sender: String = "alice@example.org")
        -> Envelope
    {
        Envelope(mailFrom: sender, parameters: MailParameters(smtpUTF8: smtpUTF8, ret: ret, envelopeID: envid))
    }

    static func failed(
        _ address: String = "bob@example.com", notify: DSNNotify? = nil, orcpt: String? = nil,
        diagnostic: DSNDiagnostic? = .smtp(SMTPReply(code: 550, EnhancedStatusCode(5, 1, 1), "<bob@example.com>: User unknown"))
    ) -> RecipientOutcome {
        RecipientOutcome(
            recipient: EnvelopeRecipient(address: address, notify: notify, originalRecipient: orcpt), action: .failed,
            status: EnhancedStatusCode(5, 1, 1), diagnostic: diagnostic, remoteMTA: "mx.example.com")
    }

    static func report(_ envelope: Envelope = envelope(), _ recipients: [RecipientOutcome] = [failed()], verdict: Bool = false)
        -> DeliveryReport
    {
        DeliveryReport(envelope: envelope, queueID: queueID, arrivalDate: arrival, recipients: recipients, suppressForVerdict: verdict)
    }

    static func compose(_ report: DeliveryReport, message: ByteBuffer = message, composer: DSNComposer = composer, size: Int? = nil)
        -> ComposedDSN?
    {
        composer.compose(report, originalMessage: message, originalSize: size, date: now, messageID: "dsn-1@filter.example.net")
    }
}

@Suite("DSNComposer")
struct DSNComposerTests {
    typealias F = DSNFixtures

    @Test("a failure DSN is an RFC 3464 multipart/report that Python's email package reads back")
    func failureReport() throws {
        let report = F.report(
            F.envelope(ret: .full, envid: "QQ+2B314159"),
            [F.failed(orcpt: "rfc822;Bob+2BSales@Example.COM")])
        let dsn = try #require(F.compose(report))
        expectWellFormed(dsn)
        #expect(dsn.mailFrom == "")
        #expect(dsn.recipient == "alice@example.org")
        #expect(dsn.parameters.smtpUTF8 == false)
        #expect(dsn.parameters.body == nil)
        #expect(dsn.messageID == "dsn-1@filter.example.net")
        let text = String(buffer: dsn.message)
        #expect(text.hasPrefix("From: Mail Delivery System <MAILER-DAEMON@filter.example.net>\r\n"))
        #expect(text.contains("\r\nAuto-Submitted: auto-replied\r\n"))

        let parsed = try parseWithPython(dsn)
        #expect(parsed.defects == [])
        #expect(!parsed.bareLineEnd && parsed.endsWithCRLF && !parsed.eightBit && parsed.maxLine <= 998)
        #expect(parsed.contentType == "multipart/report")
        #expect(parsed.reportType == "delivery-status")
        #expect(parsed.parts.map(\.contentType) == ["text/plain", "message/delivery-status", "message/rfc822"])
        #expect(parsed.headers["from"] == "Mail Delivery System <MAILER-DAEMON@filter.example.net>")
        #expect(parsed.headers["to"] == "<alice@example.org>")
        #expect(parsed.headers["subject"] == "Undelivered Mail Returned to Sender")
        #expect(parsed.headers["date"] == "Mon, 24 Nov 2025 17:00:00 +0000")
        #expect(parsed.headers["message-id"] == "<dsn-1@filter.example.net>")
        #expect(parsed.headers["mime-version"] == "1.0")
        #expect(parsed.headers["auto-submitted"] == "auto-replied")

        #expect(parsed.perMessage?["reporting-mta"] == "dns; filter.example.net")
        #expect(parsed.perMessage?["original-envelope-id"] == "QQ+314159")
        #expect(parsed.perMessage?["arrival-date"] == "Mon, 24 Nov 2025 16:00:00 +0000")
        let recipient = try #require(parsed.recipients?.first)
        #expect(parsed.recipients?.count == 1)
        #expect(recipient["original-recipient"] == "rfc822;Bob+Sales@Example.COM")
        #expect(recipient["final-recipient"] == "rfc822;bob@example.com")
        #expect(recipient["action"] == "failed")
        #expect(recipient["status"] == "5.1.1")
        #expect(recipient["remote-mta"] == "dns; mx.example.com")
        #expect(recipient["diagnostic-code"] == "smtp; 550 5.1.1 <bob@example.com>: User unknown")
        #expect(recipient["will-retry-until"] == nil)

        let human = try #require(parsed.flatText)
        #expect(human.contains("<bob@example.com>: (originally addressed to <Bob+Sales@Example.COM>) 550 5.1.1"))
        #expect(human.contains("queue ID Q1a2b3c4d5e6f7g"))
        #expect(human.contains("postmaster@example.net"))
        #expect(human.contains("Your message is attached."))
        #expect(parsed.returned?.headers["subject"] == "Quarterly figures")
        #expect(parsed.returned?.body?.contains("the figures are attached.") == true)
    }

    @Test("RET=HDRS returns only the header section as text/rfc822-headers")
    func headersOnly() throws {
        let dsn = try #require(F.compose(F.report(F.envelope(ret: .headers))))
        expectWellFormed(dsn)
        #expect(!String(buffer: dsn.message).contains("the figures are attached"))
        let parsed = try parseWithPython(dsn)
        #expect(parsed.defects == [])
        #expect(parsed.parts.map(\.contentType) == ["text/plain", "message/delivery-status", "text/rfc822-headers"])
        #expect(parsed.returned?.headers["message-id"] == "<orig-1@example.org>")
        #expect(parsed.flatText?.contains("The headers of your message are attached.") == true)
    }

    @Test("an absent RET returns the full message in a failure DSN, as Postfix does")
    func absentReturnIsFull() throws {
        let parsed = try parseWithPython(try #require(F.compose(F.report(F.envelope(ret: nil)))))
        #expect(parsed.parts.last?.contentType == "message/rfc822")
    }

    @Test("a message over the size cap, or passed as a prefix, is returned as headers and the text says so")
    func sizeCap() throws {
        let small = DSNComposer(reportingMTA: "filter.example.net", maximumReturnedBytes: 150)
        let capped = try parseWithPython(try #require(F.compose(F.report(F.envelope(ret: .full)), composer: small)))
        #expect(capped.parts.last?.contentType == "text/rfc822-headers")
        #expect(capped.flatText?.contains("larger than the 150 octets") == true)
        #expect(capped.flatText?.contains("contact your postmaster") == true)

        let prefix = try parseWithPython(try #require(F.compose(F.report(F.envelope(ret: .full)), size: 5_000_000)))
        #expect(prefix.parts.last?.contentType == "text/rfc822-headers")
        #expect(prefix.flatText?.contains("(5000000 octets)") == true)
        #expect(prefix.returned?.headers["subject"] == "Quarterly figures")

        let tiny = DSNComposer(reportingMTA: "filter.example.net", maximumReturnedBytes: 60)
        let cut = try parseWithPython(try #require(F.compose(F.report(F.envelope(ret: .headers)), composer: tiny)))
        #expect(cut.returned?.headers["from"] == "Alice <alice@example.org>")
        #expect(cut.returned?.headers["subject"] == nil)
        #expect(cut.flatText?.contains("has been cut") == true)
    }

    @Test("a delay DSN says so, carries Will-Retry-Until and returns only headers")
    func delayReport() throws {
        let until = Date(timeIntervalSince1970: 1_764_432_000)
        let delayed = RecipientOutcome(
            recipient: EnvelopeRecipient(address: "bob@example.com"), action: .delayed, status: EnhancedStatusCode(4, 4, 1),
            diagnostic: .filter("held by the recipient's filter"), lastAttemptDate: F.now, willRetryUntil: until)
        let dsn = try #require(F.compose(F.report(F.envelope(ret: .full), [delayed])))
        expectWellFormed(dsn)
        let parsed = try parseWithPython(dsn)
        #expect(parsed.defects == [])
        #expect(parsed.headers["subject"] == "Delayed Mail (still being retried)")
        #expect(parsed.parts.last?.contentType == "text/rfc822-headers")
        let recipient = try #require(parsed.recipients?.first)
        #expect(recipient["action"] == "delayed")
        #expect(recipient["status"] == "4.4.1")
        #expect(recipient["diagnostic-code"] == "X-Filter; held by the recipient's filter")
        #expect(recipient["last-attempt-date"] == "Mon, 24 Nov 2025 17:00:00 +0000")
        #expect(recipient["will-retry-until"] == "Sat, 29 Nov 2025 16:00:00 +0000")
        #expect(parsed.flatText?.contains("could not be delivered yet") == true)
        #expect(parsed.flatText?.contains("keeps trying until Sat, 29 Nov 2025") == true)
    }

    struct NotifyCase: Sendable, CustomTestStringConvertible {
        var notify: DSNNotify?
        var action: DSNAction
        var reported: Bool
        var testDescription: String { "NOTIFY=\(notify.map { String($0.rawValue) } ?? "absent") \(action) -> \(reported)" }
    }

    @Test(
        "NOTIFY decides per recipient (RFC 3461 §4.1; absent means FAILURE,DELAY)",
        arguments: [
            NotifyCase(notify: nil, action: .failed, reported: true),
            NotifyCase(notify: nil, action: .delayed, reported: true),
            NotifyCase(notify: nil, action: .delivered, reported: false),
            NotifyCase(notify: .never, action: .failed, reported: false),
            NotifyCase(notify: .never, action: .delayed, reported: false),
            NotifyCase(notify: .delay, action: .failed, reported: false),
            NotifyCase(notify: .delay, action: .delayed, reported: true),
            NotifyCase(notify: .failure, action: .delayed, reported: false),
            NotifyCase(notify: .failure, action: .failed, reported: true),
            NotifyCase(notify: [.success, .failure], action: .delivered, reported: true),
            NotifyCase(notify: .success, action: .relayed, reported: true),
            NotifyCase(notify: .success, action: .failed, reported: false),
        ])
    func notify(_ testCase: NotifyCase) throws {
        let outcome = RecipientOutcome(
            recipient: EnvelopeRecipient(address: "bob@example.com", notify: testCase.notify), action: testCase.action,
            status: EnhancedStatusCode(testCase.action == .failed ? 5 : testCase.action == .delayed ? 4 : 2, 0, 0))
        let report = F.report(F.envelope(), [outcome])
        let dsn = F.compose(report)
        #expect((dsn != nil) == testCase.reported)
        if testCase.reported {
            let parsed = try parseWithPython(try #require(dsn))
            #expect(parsed.defects == [])
            #expect(parsed.recipients?.first?["action"] == testCase.action.rawValue)
        } else {
            #expect(F.composer.suppression(of: report, originalMessage: F.message)?.reason == .notRequested)
        }
    }

    @Test("recipients that did not ask are left out of a DSN that others asked for")
    func mixedNotify() throws {
        let report = F.report(
            F.envelope(),
            [
                F.failed("bob@example.com", notify: .never, diagnostic: .filter("denied")),
                F.failed("carol@example.com", notify: [.failure, .delay], diagnostic: .filter("denied")),
            ])
        let parsed = try parseWithPython(try #require(F.compose(report)))
        #expect(parsed.recipients?.map { $0["final-recipient"] } == ["rfc822;carol@example.com"])
        #expect(parsed.flatText?.contains("bob@example.com") == false)
        #expect(parsed.flatText?.contains("<carol@example.com>: denied") == true)
    }

    struct SuppressionCase: Sendable, CustomTestStringConvertible {
        var header: String
        var reason: DSNSuppression.Reason?
        var testDescription: String { header.isEmpty ? "(none)" : header.replacingOccurrences(of: "\r\n", with: "\\r\\n") }
    }

    @Test(
        "automatic, bulk and list mail gets no DSN (RFC 3834 §5)",
        arguments: [
            SuppressionCase(header: "Auto-Submitted: auto-generated\r\n", reason: .autoSubmitted),
            SuppressionCase(header: "auto-submitted: Auto-Replied (vacation)\r\n", reason: .autoSubmitted),
            SuppressionCase(header: "Auto-Submitted:\r\n auto-notified; owner-email=\"a@b\"\r\n", reason: .autoSubmitted),
            SuppressionCase(header: "Auto-Submitted: no\r\n", reason: nil),
            SuppressionCase(header: "Auto-Submitted: No (human)\r\n", reason: nil),
            SuppressionCase(header: "Precedence: bulk\r\n", reason: .bulkPrecedence),
            SuppressionCase(header: "Precedence: LIST\r\n", reason: .bulkPrecedence),
            SuppressionCase(header: "Precedence: junk\r\n", reason: .bulkPrecedence),
            SuppressionCase(header: "Precedence: first-class\r\n", reason: nil),
            SuppressionCase(header: "List-Id: Figures <figures.lists.example.org>\r\n", reason: .mailingList),
            SuppressionCase(header: "List-Unsubscribe: <mailto:leave@lists.example.org>\r\n", reason: .mailingList),
            SuppressionCase(header: "", reason: nil),
        ])
    func headerSuppression(_ testCase: SuppressionCase) throws {
        let message = ByteBuffer(string: "From: alice@example.org\r\n\(testCase.header)Subject: x\r\n\r\nbody\r\n")
        let report = F.report()
        #expect(F.composer.suppression(of: report, originalMessage: message)?.reason == testCase.reason)
        #expect((F.compose(report, message: message) == nil) == (testCase.reason != nil))
    }

    @Test("fields in the body do not count as headers")
    func bodyIsNotHeader() {
        let message = ByteBuffer(string: "Subject: x\r\n\r\nPrecedence: bulk\r\nList-Id: <x>\r\n")
        #expect(F.composer.suppression(of: F.report(), originalMessage: message) == nil)
        #expect(F.compose(F.report(), message: message) != nil)
    }

    @Test("no DSN to the null sender or for mail judged spam or virus")
    func senderAndVerdict() {
        let nullSender = F.report(F.envelope(sender: ""))
        #expect(F.compose(nullSender) == nil)
        #expect(F.composer.suppression(of: nullSender, originalMessage: F.message)?.reason == .nullSender)
        let spam = F.report(verdict: true)
        #expect(F.compose(spam) == nil)
        #expect(F.composer.suppression(of: spam, originalMessage: F.message)?.reason == .verdict)
    }

    @Test("SMTPUTF8 mail gets a global DSN (RFC 6533) with UTF-8 addresses")
    func globalDSN() throws {
        let message = ByteBuffer(string: "From: Jürgen <jürgen@exämple.de>\r\nSubject: Grüße\r\n\r\nHallo Zoë\r\n")
        let report = F.report(
            F.envelope(ret: .full, smtpUTF8: true, sender: "jürgen@exämple.de"),
            [F.failed("zoë@example.com", orcpt: "utf-8;Zo\\x{EB}@example.com",
                      diagnostic: .smtp(SMTPReply(code: 550, EnhancedStatusCode(5, 1, 1), "zoë: unknown")))])
        let dsn = try #require(F.compose(report, message: message))
        expectWellFormed(dsn)
        #expect(dsn.recipient == "jürgen@exämple.de")
        #expect(dsn.parameters.smtpUTF8)
        #expect(dsn.parameters.body == .eightBitMIME)
        let parsed = try parseWithPython(dsn)
        #expect(parsed.defects == [])
        #expect(parsed.reportType == "delivery-status")
        #expect(parsed.parts.map(\.contentType) == ["text/plain", "message/global-delivery-status", "message/global"])
        #expect(parsed.parts.first?.charset == "utf-8")
        #expect(parsed.headers["to"] == "<jürgen@exämple.de>")
        let recipient = try #require(parsed.recipients?.first)
        #expect(recipient["final-recipient"] == "utf-8;zoë@example.com")
        #expect(recipient["original-recipient"] == "utf-8;Zoë@example.com")
        #expect(recipient["diagnostic-code"] == "smtp; 550 5.1.1 zoë: unknown")
        #expect(parsed.flatText?.contains("<zoë@example.com>:") == true)
        #expect(parsed.returned?.headers["subject"] == "Grüße")

        let headers = try #require(
            F.compose(F.report(F.envelope(ret: .headers, smtpUTF8: true), [F.failed()]), message: message))
        #expect(try parseWithPython(headers).parts.last?.contentType == "message/global-headers")
    }

    @Test("a US-ASCII DSN stays 7-bit: non-ASCII text is quoted-printable, fields get ? or \\x{} escapes")
    func sevenBit() throws {
        let report = F.report(
            F.envelope(),
            [F.failed(orcpt: "rfc822;J+C3+BCrgen@example.com",
                      diagnostic: .smtp(SMTPReply(code: 550, EnhancedStatusCode(5, 7, 1), "Zugriff verweigert für Sie")))])
        let dsn = try #require(F.compose(report))
        expectWellFormed(dsn)
        #expect(dsn.parameters.body == nil)
        let parsed = try parseWithPython(dsn)
        #expect(!parsed.eightBit)
        #expect(parsed.parts.first?.cte == "quoted-printable")
        #expect(parsed.flatText?.contains("Zugriff verweigert für Sie") == true)
        let recipient = try #require(parsed.recipients?.first)
        #expect(recipient["diagnostic-code"] == "smtp; 550 5.7.1 Zugriff verweigert f?r Sie")
        #expect(recipient["original-recipient"] == "utf-8;J\\x{FC}rgen@example.com")
    }

    @Test("8-bit returned content is labelled 8bit and asks for BODY=8BITMIME")
    func eightBitContent() throws {
        let message = ByteBuffer(string: "Subject: hi\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nGrüße\r\n")
        let dsn = try #require(F.compose(F.report(F.envelope(ret: .full)), message: message))
        expectWellFormed(dsn)
        #expect(dsn.parameters.body == .eightBitMIME)
        #expect(dsn.parameters.smtpUTF8 == false)
        let parsed = try parseWithPython(dsn)
        #expect(parsed.defects == [])
        #expect(parsed.headers["content-transfer-encoding"] == "8bit")
        #expect(parsed.parts.last?.cte == "8bit")
        #expect(parsed.parts.first?.charset == "us-ascii")
    }

    @Test("long diagnostics are folded, lines stay within 998 octets, CR LF cannot inject fields")
    func foldingAndInjection() throws {
        let words = (0..<400).map { "word\($0)" }.joined(separator: " ")
        let longWord = String(repeating: "x", count: 2500)
        let report = F.report(
            F.envelope(),
            [
                F.failed("a@example.com", diagnostic: .smtp(SMTPReply(code: 550, EnhancedStatusCode(5, 0, 0), words))),
                F.failed("b@example.com", diagnostic: .smtp(SMTPReply(code: 550, EnhancedStatusCode(5, 0, 0), longWord))),
                F.failed("c@example.com", diagnostic: .filter("bad\r\nX-Injected: yes\r\n\r\nFinal-Recipient: rfc822;evil@x")),
            ])
        let dsn = try #require(F.compose(report))
        expectWellFormed(dsn)
        let parsed = try parseWithPython(dsn)
        #expect(parsed.defects == [])
        #expect(parsed.maxLine <= 998)
        let recipients = try #require(parsed.recipients)
        #expect(recipients.count == 3)
        #expect(recipients[0]["diagnostic-code"] == "smtp; 550 5.0.0 " + words)
        let folded = try #require(recipients[1]["diagnostic-code"])
        #expect(folded.filter { $0 == "x" }.count == 2500)
        #expect(recipients[2]["x-injected"] == nil)
        #expect(recipients[2]["final-recipient"] == "rfc822;c@example.com")
        #expect(recipients[2]["diagnostic-code"] == "X-Filter; bad X-Injected: yes Final-Recipient: rfc822;evil@x")
    }

    @Test("the boundary never occurs in the content")
    func boundaryCollision() throws {
        let expected = "Q1a2b3c4d5e6f7g.\(Int(F.now.timeIntervalSince1970))/filter.example.net"
        let hostile = ByteBuffer(
            string: "Subject: trap\r\n\r\n--\(expected)\r\nContent-Type: text/plain\r\n\r\n--\(expected)=_1\r\n")
        let dsn = try #require(F.compose(F.report(F.envelope(ret: .full)), message: hostile))
        let parsed = try parseWithPython(dsn)
        #expect(parsed.boundary == expected + "=_2")
        #expect(parsed.defects == [])
        #expect(parsed.parts.count == 3)
        #expect(parsed.returned?.body?.contains("--\(expected)=_1") == true)

        let plain = try parseWithPython(try #require(F.compose(F.report())))
        #expect(plain.boundary == expected)
    }

    @Test("bare line ends and over-long lines of the original are made canonical in the copy")
    func canonicalCopy() throws {
        let long = String(repeating: "y", count: 2100)
        let message = ByteBuffer(string: "Subject: raw\nX-Long: \(long)\n\nline one\rline two\n\(long)\n")
        let dsn = try #require(F.compose(F.report(F.envelope(ret: .full)), message: message))
        expectWellFormed(dsn)
        let parsed = try parseWithPython(dsn)
        #expect(parsed.defects == [])
        #expect(parsed.returned?.headers["subject"] == "raw")
        #expect(parsed.returned?.headers["x-long"]?.filter { $0 == "y" }.count == 2100)
        #expect(parsed.returned?.body?.contains("line one\r\nline two") == true)
    }

    @Test("an invalid ENVID or ORCPT is left out rather than written wrongly")
    func invalidParameters() throws {
        let dsn = try #require(F.compose(F.report(F.envelope(envid: "bad+Z"), [F.failed(orcpt: "no-semicolon")])))
        let parsed = try parseWithPython(dsn)
        #expect(parsed.perMessage?["original-envelope-id"] == nil)
        #expect(parsed.recipients?.first?["original-recipient"] == nil)
        #expect(parsed.recipients?.first?["final-recipient"] == "rfc822;bob@example.com")
    }

    @Test("a default Message-ID is unique and names the reporting MTA")
    func defaultMessageID() throws {
        let first = try #require(F.composer.compose(F.report(), originalMessage: F.message, date: F.now))
        let second = try #require(F.composer.compose(F.report(), originalMessage: F.message, date: F.now))
        #expect(first.messageID != second.messageID)
        #expect(first.messageID.hasSuffix("@filter.example.net"))
        #expect(String(buffer: first.message).contains("Message-ID: <\(first.messageID)>\r\n"))
    }
}
