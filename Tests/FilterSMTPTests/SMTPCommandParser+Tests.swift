import FilterCore
import FilterSMTP
import NIOCore
import Testing

/// One command line and what the parser must make of it: a command, or a reply code with its
/// enhanced status.
struct ParserFixture: Sendable, CustomTestStringConvertible {
    enum Expected: Sendable {
        case command(SMTPCommand)
        case failure(ExpectedReply)
    }

    let line: [UInt8]
    let expected: Expected

    var testDescription: String {
        String(decoding: line, as: UTF8.self).debugDescription
    }

    static func ok(_ line: String, _ command: SMTPCommand) -> ParserFixture {
        ParserFixture(line: Array(text: line), expected: .command(command))
    }

    static func ok(_ line: [UInt8], _ command: SMTPCommand) -> ParserFixture {
        ParserFixture(line: line, expected: .command(command))
    }

    static func fails(_ line: String, _ code: Int, _ status: String) -> ParserFixture {
        ParserFixture(line: Array(text: line), expected: .failure(ExpectedReply(code, status)))
    }

    static func fails(_ line: [UInt8], _ code: Int, _ status: String) -> ParserFixture {
        ParserFixture(line: line, expected: .failure(ExpectedReply(code, status)))
    }
}

private func mail(_ path: String, _ parameters: MailParameters = MailParameters()) -> SMTPCommand {
    .mail(MailCommand(reversePath: path, parameters: parameters))
}

private func rcpt(_ address: String, notify: DSNNotify? = nil, orcpt: String? = nil) -> SMTPCommand {
    .rcpt(EnvelopeRecipient(address: address, notify: notify, originalRecipient: orcpt))
}

private func xforward(_ pairs: (String, String?)...) -> SMTPCommand {
    .xforward(pairs.map { XForwardAttribute(name: $0.0, value: $0.1) })
}

@Suite("SMTPCommandParser")
struct SMTPCommandParserTests {
    static let greetings: [ParserFixture] = [
        .ok("EHLO client.example", .ehlo("client.example")),
        .ok("ehlo client.example", .ehlo("client.example")),
        .ok("EHLO  [192.0.2.1]  ", .ehlo("[192.0.2.1]")),
        .ok("EHLO [IPv6:2001:db8::1]", .ehlo("[IPv6:2001:db8::1]")),
        .ok("HELO client.example", .helo("client.example")),
        .ok("Helo x", .helo("x")),
        .fails("EHLO", 501, "5.5.4"),
        .fails("EHLO ", 501, "5.5.4"),
        .fails("HELO", 501, "5.5.4"),
        .fails("EHLO two words", 501, "5.5.4"),
        .fails([UInt8](text: "EHLO bad") + [0xFF, 0xFE], 501, "5.5.4"),
    ]

    static let mailCommands: [ParserFixture] = [
        .ok("MAIL FROM:<sender@example.com>", mail("sender@example.com")),
        .ok("mail from:<sender@example.com>", mail("sender@example.com")),
        .ok("MAIL FROM: <sender@example.com>", mail("sender@example.com")),
        .ok("MAIL FROM:<>", mail("")),
        .ok("MAIL FROM:<> ", mail("")),
        .ok("MAIL FROM:<a@b.example> SIZE=12345", mail("a@b.example", MailParameters(size: 12345))),
        .ok("MAIL FROM:<a@b.example> SIZE=0", mail("a@b.example", MailParameters(size: 0))),
        // RFC 1870: up to 20 digits; a size past Int.max is simply "too big", not a syntax error.
        .ok("MAIL FROM:<a@b.example> SIZE=99999999999999999999", mail("a@b.example", MailParameters(size: Int.max))),
        .ok("MAIL FROM:<a@b.example> BODY=7BIT", mail("a@b.example", MailParameters(body: .sevenBit))),
        .ok("MAIL FROM:<a@b.example> BODY=8BITMIME", mail("a@b.example", MailParameters(body: .eightBitMIME))),
        .ok("MAIL FROM:<a@b.example> body=8bitmime", mail("a@b.example", MailParameters(body: .eightBitMIME))),
        .ok("MAIL FROM:<a@b.example> SMTPUTF8", mail("a@b.example", MailParameters(smtpUTF8: true))),
        .ok("MAIL FROM:<a@b.example> RET=FULL", mail("a@b.example", MailParameters(ret: .full))),
        .ok("MAIL FROM:<a@b.example> RET=hdrs", mail("a@b.example", MailParameters(ret: .headers))),
        .ok("MAIL FROM:<a@b.example> ENVID=QQ314159", mail("a@b.example", MailParameters(envelopeID: "QQ314159"))),
        .ok("MAIL FROM:<a@b.example> ENVID=a+2Bb+3Dc", mail("a@b.example", MailParameters(envelopeID: "a+2Bb+3Dc"))),
        .ok(
            "MAIL FROM:<a@b.example> SIZE=10 BODY=8BITMIME SMTPUTF8 RET=HDRS ENVID=id1",
            mail("a@b.example", MailParameters(size: 10, body: .eightBitMIME, smtpUTF8: true, ret: .headers, envelopeID: "id1"))),
        .ok("MAIL FROM:<a@b.example>  SIZE=10  ", mail("a@b.example", MailParameters(size: 10))),
        .fails("MAIL FROM:<a@b.example> SIZE=", 501, "5.5.4"),
        .fails("MAIL FROM:<a@b.example> SIZE", 501, "5.5.4"),
        .fails("MAIL FROM:<a@b.example> SIZE=12a", 501, "5.5.4"),
        .fails("MAIL FROM:<a@b.example> SIZE=-1", 501, "5.5.4"),
        .fails("MAIL FROM:<a@b.example> SIZE=999999999999999999999", 501, "5.5.4"),
        .fails("MAIL FROM:<a@b.example> BODY=BINARYMIME", 501, "5.5.4"),
        .fails("MAIL FROM:<a@b.example> BODY", 501, "5.5.4"),
        .fails("MAIL FROM:<a@b.example> SMTPUTF8=yes", 501, "5.5.4"),
        .fails("MAIL FROM:<a@b.example> RET=BODY", 501, "5.5.4"),
        .fails("MAIL FROM:<a@b.example> RET", 501, "5.5.4"),
        .fails("MAIL FROM:<a@b.example> ENVID=", 501, "5.5.4"),
        .fails("MAIL FROM:<a@b.example> ENVID=a+2", 501, "5.5.4"),
        .fails("MAIL FROM:<a@b.example> ENVID=a+ZZ", 501, "5.5.4"),
        .fails("MAIL FROM:<a@b.example> ENVID=" + String(repeating: "x", count: 101), 501, "5.5.4"),
        .ok(
            "MAIL FROM:<a@b.example> ENVID=" + String(repeating: "x", count: 100),
            mail("a@b.example", MailParameters(envelopeID: String(repeating: "x", count: 100)))),
        .fails("MAIL FROM:<a@b.example> SIZE=1 SIZE=2", 501, "5.5.4"),
        .fails("MAIL FROM:<a@b.example> BODY=7BIT body=8BITMIME", 501, "5.5.4"),
        .fails("MAIL FROM:<a@b.example> SMTPUTF8 SMTPUTF8", 501, "5.5.4"),
        .fails("MAIL FROM:<a@b.example> AUTH=<>", 555, "5.5.4"),
        .fails("MAIL FROM:<a@b.example> X-UNKNOWN", 555, "5.5.4"),
        .fails("MAIL FROM:<a@b.example> NOTIFY=NEVER", 555, "5.5.4"),
        .fails("MAIL FROM:sender@example.com", 501, "5.5.4"),
        .fails("MAIL FROM:<sender@example.com", 501, "5.5.4"),
        .fails("MAIL FROM:<a@b.example>SIZE=1", 501, "5.5.4"),
        .fails("MAIL TO:<a@b.example>", 501, "5.5.4"),
        .fails("MAIL", 501, "5.5.4"),
        .fails("MAIL FROM", 501, "5.5.4"),
    ]

    static let rcptCommands: [ParserFixture] = [
        .ok("RCPT TO:<rcpt@example.com>", rcpt("rcpt@example.com")),
        .ok("rcpt to: <rcpt@example.com>", rcpt("rcpt@example.com")),
        .ok("RCPT TO:<Postmaster>", rcpt("Postmaster")),
        .ok("RCPT TO:<r@x.example> NOTIFY=NEVER", rcpt("r@x.example", notify: .never)),
        .ok("RCPT TO:<r@x.example> NOTIFY=never", rcpt("r@x.example", notify: .never)),
        .ok("RCPT TO:<r@x.example> NOTIFY=SUCCESS", rcpt("r@x.example", notify: [.success])),
        .ok("RCPT TO:<r@x.example> NOTIFY=FAILURE", rcpt("r@x.example", notify: [.failure])),
        .ok("RCPT TO:<r@x.example> NOTIFY=DELAY", rcpt("r@x.example", notify: [.delay])),
        .ok("RCPT TO:<r@x.example> NOTIFY=SUCCESS,FAILURE", rcpt("r@x.example", notify: [.success, .failure])),
        .ok("RCPT TO:<r@x.example> NOTIFY=FAILURE,DELAY", rcpt("r@x.example", notify: [.failure, .delay])),
        .ok("RCPT TO:<r@x.example> NOTIFY=SUCCESS,DELAY", rcpt("r@x.example", notify: [.success, .delay])),
        .ok("RCPT TO:<r@x.example> NOTIFY=delay,Success,FAILURE", rcpt("r@x.example", notify: [.success, .failure, .delay])),
        .ok("RCPT TO:<r@x.example> ORCPT=rfc822;r@x.example", rcpt("r@x.example", orcpt: "rfc822;r@x.example")),
        .ok("RCPT TO:<r@x.example> ORCPT=rfc822;a+2Bb@x.example", rcpt("r@x.example", orcpt: "rfc822;a+2Bb@x.example")),
        .ok("RCPT TO:<r@x.example> ORCPT=utf-8;J+C3+B8ran@x.example", rcpt("r@x.example", orcpt: "utf-8;J+C3+B8ran@x.example")),
        .ok(
            "RCPT TO:<r@x.example> ORCPT=rfc822;o@x.example NOTIFY=SUCCESS,FAILURE",
            rcpt("r@x.example", notify: [.success, .failure], orcpt: "rfc822;o@x.example")),
        .fails("RCPT TO:<r@x.example> NOTIFY=NEVER,SUCCESS", 501, "5.5.4"),
        .fails("RCPT TO:<r@x.example> NOTIFY=", 501, "5.5.4"),
        .fails("RCPT TO:<r@x.example> NOTIFY", 501, "5.5.4"),
        .fails("RCPT TO:<r@x.example> NOTIFY=FAILURE,", 501, "5.5.4"),
        .fails("RCPT TO:<r@x.example> NOTIFY=SOMETIMES", 501, "5.5.4"),
        .fails("RCPT TO:<r@x.example> ORCPT=rfc822", 501, "5.5.4"),
        .fails("RCPT TO:<r@x.example> ORCPT=;r@x.example", 501, "5.5.4"),
        .fails("RCPT TO:<r@x.example> ORCPT=rfc822;", 501, "5.5.4"),
        .fails("RCPT TO:<r@x.example> ORCPT=rfc822;a+ZZ", 501, "5.5.4"),
        .fails("RCPT TO:<r@x.example> ORCPT=rfc822;" + String(repeating: "x", count: 500), 501, "5.5.4"),
        .fails("RCPT TO:<r@x.example> NOTIFY=NEVER NOTIFY=NEVER", 501, "5.5.4"),
        .fails("RCPT TO:<r@x.example> ORCPT=rfc822;a@b ORCPT=rfc822;a@b", 501, "5.5.4"),
        .fails("RCPT TO:<r@x.example> SIZE=10", 555, "5.5.4"),
        .fails("RCPT TO:<r@x.example> FOO=BAR", 555, "5.5.4"),
        .fails("RCPT TO:<>", 553, "5.1.3"),
        .fails("RCPT TO:r@x.example", 501, "5.5.4"),
        .fails("RCPT FROM:<r@x.example>", 501, "5.5.4"),
        .fails("RCPT", 501, "5.5.4"),
    ]

    static let addresses: [ParserFixture] = [
        // Obsolete source routes are accepted and dropped (RFC 5321 §4.1.2, Appendix C).
        .ok("MAIL FROM:<@a.example,@b.example:user@c.example>", mail("user@c.example")),
        .ok("RCPT TO:<@relay.example:user@c.example>", rcpt("user@c.example")),
        .fails("RCPT TO:<@relay.example>", 553, "5.1.3"),
        // Quoted local parts, also with the characters that would end the path or split words.
        .ok("RCPT TO:<\"a>b\"@x.example>", rcpt("\"a>b\"@x.example")),
        .ok("RCPT TO:<\"a b\"@x.example> NOTIFY=NEVER", rcpt("\"a b\"@x.example", notify: .never)),
        .ok("RCPT TO:<\"a\\\"b\"@x.example>", rcpt("\"a\\\"b\"@x.example")),
        .ok("RCPT TO:<\"a@b\"@x.example>", rcpt("\"a@b\"@x.example")),
        .fails("RCPT TO:<\"a\"b@x.example>", 553, "5.1.3"),
        .fails("RCPT TO:<\"unterminated@x.example>", 501, "5.5.4"),
        // Dot-atoms and domains.
        .ok("RCPT TO:<first.last+tag@sub.x.example>", rcpt("first.last+tag@sub.x.example")),
        .ok("RCPT TO:<a@[192.0.2.1]>", rcpt("a@[192.0.2.1]")),
        .ok("RCPT TO:<a@[IPv6:2001:db8::1]>", rcpt("a@[IPv6:2001:db8::1]")),
        .fails("RCPT TO:<a..b@x.example>", 553, "5.1.3"),
        .fails("RCPT TO:<.a@x.example>", 553, "5.1.3"),
        .fails("RCPT TO:<a@x..example>", 553, "5.1.3"),
        .fails("RCPT TO:<a@-x.example>", 553, "5.1.3"),
        .fails("RCPT TO:<a@>", 553, "5.1.3"),
        .fails("RCPT TO:<@x.example>", 553, "5.1.3"),
        .fails("RCPT TO:<a b@x.example>", 553, "5.1.3"),
        .fails("RCPT TO:<a@[]>", 553, "5.1.3"),
        .fails("RCPT TO:<nobody>", 553, "5.1.3"),
        .fails("MAIL FROM:<postmaster>", 553, "5.1.7"),
        .fails("MAIL FROM:<a b@x.example>", 553, "5.1.7"),
        // UTF-8 addresses are the state machine's business (SMTPUTF8); the parser takes valid UTF-8.
        .ok("RCPT TO:<jøran@blåbærsyltetøy.example>", rcpt("jøran@blåbærsyltetøy.example")),
        .ok("MAIL FROM:<用户@例子.广告> SMTPUTF8", mail("用户@例子.广告", MailParameters(smtpUTF8: true))),
        .ok("RCPT TO:<\"jø ran\"@x.example>", rcpt("\"jø ran\"@x.example")),
        // Invalid UTF-8 (a Latin-1 é, a truncated sequence, an overlong form) is refused.
        .fails([UInt8](text: "RCPT TO:<caf") + [0xE9] + [UInt8](text: "@x.example>"), 553, "5.1.3"),
        .fails([UInt8](text: "RCPT TO:<a@x") + [0xC3] + [UInt8](text: ".example>"), 553, "5.1.3"),
        .fails([UInt8](text: "MAIL FROM:<") + [0xC0, 0xAF] + [UInt8](text: "@x.example>"), 553, "5.1.7"),
        // Control characters never make it into an address.
        .fails("RCPT TO:<a\u{7F}@x.example>", 553, "5.1.3"),
        .fails("RCPT TO:<a\tb@x.example>", 553, "5.1.3"),
        .fails("RCPT TO:<\"a\rb\"@x.example>", 553, "5.1.3"),
    ]

    static let simpleCommands: [ParserFixture] = [
        .ok("DATA", .data),
        .ok("data", .data),
        .ok("DATA ", .data),
        .ok("RSET", .rset),
        .ok("QUIT", .quit),
        .ok("quit", .quit),
        .ok("NOOP", .noop),
        .ok("NOOP anything at all", .noop),
        .ok("HELP", .help),
        .ok("HELP MAIL", .help),
        .ok("VRFY postmaster", .vrfy("postmaster")),
        .ok("vrfy <a@x.example>", .vrfy("<a@x.example>")),
        .fails("VRFY", 501, "5.5.4"),
        .fails("VRFY  ", 501, "5.5.4"),
        .fails("DATA now", 501, "5.5.4"),
        .fails("RSET x", 501, "5.5.4"),
        .fails("QUIT please", 501, "5.5.4"),
        .fails("", 502, "5.5.2"),
        .fails("STARTTLS", 502, "5.5.2"),
        .fails("AUTH PLAIN", 502, "5.5.2"),
        .fails("BDAT 10 LAST", 502, "5.5.2"),
        .fails("EXPN list", 502, "5.5.2"),
        .fails("GET / HTTP/1.1", 502, "5.5.2"),
        .fails("MAILFROM:<a@x.example>", 502, "5.5.2"),
        .fails([UInt8](text: "NOOP") + [0], 500, "5.5.2"),
        .fails([UInt8](text: "MAIL FROM:<a") + [0] + [UInt8](text: "b@x.example>"), 500, "5.5.2"),
        .fails([UInt8](text: "RCPT TO:<a@x.example>") + [0], 500, "5.5.2"),
        .fails([0], 500, "5.5.2"),
    ]

    static let xforwardCommands: [ParserFixture] = [
        .ok(
            "XFORWARD NAME=mail.example.com ADDR=192.0.2.10 PORT=4711 PROTO=ESMTP",
            xforward(("NAME", "mail.example.com"), ("ADDR", "192.0.2.10"), ("PORT", "4711"), ("PROTO", "ESMTP"))),
        .ok(
            "XFORWARD HELO=client.example IDENT=4Xyz12abc SOURCE=REMOTE",
            xforward(("HELO", "client.example"), ("IDENT", "4Xyz12abc"), ("SOURCE", "REMOTE"))),
        .ok("xforward name=x.example source=LOCAL", xforward(("NAME", "x.example"), ("SOURCE", "LOCAL"))),
        .ok("XFORWARD NAME=[UNAVAILABLE] ADDR=[unavailable]", xforward(("NAME", nil), ("ADDR", nil))),
        .ok("XFORWARD NAME=[TEMPUNAVAIL]", xforward(("NAME", "[TEMPUNAVAIL]"))),
        .ok("XFORWARD ADDR=IPV6:2001:db8::1", xforward(("ADDR", "IPV6:2001:db8::1"))),
        .ok("XFORWARD ADDR=IPv6:::1 PORT=25", xforward(("ADDR", "IPv6:::1"), ("PORT", "25"))),
        .ok("XFORWARD HELO=two+20words", xforward(("HELO", "two words"))),
        .ok("XFORWARD HELO=a+2Bb+3Dc", xforward(("HELO", "a+b=c"))),
        .ok("XFORWARD HELO=j+C3+B8ran.example", xforward(("HELO", "jøran.example"))),
        .ok("XFORWARD  NAME=a.example   PORT=1 ", xforward(("NAME", "a.example"), ("PORT", "1"))),
        .ok("XFORWARD NAME=a.example NAME=b.example", xforward(("NAME", "a.example"), ("NAME", "b.example"))),
        .fails("XFORWARD", 501, "5.5.4"),
        .fails("XFORWARD ", 501, "5.5.4"),
        .fails("XFORWARD NAME", 501, "5.5.4"),
        .fails("XFORWARD COLOR=blue", 501, "5.5.4"),
        .fails("XFORWARD =x", 501, "5.5.4"),
        .fails("XFORWARD HELO=a+2", 501, "5.5.4"),
        .fails("XFORWARD HELO=a+0D+0Ab", 501, "5.5.4"),
        .fails("XFORWARD HELO=a+00b", 501, "5.5.4"),
        .fails("XFORWARD HELO=a=b", 501, "5.5.4"),
        .fails([UInt8](text: "XFORWARD HELO=caf") + [0xE9], 501, "5.5.4"),
    ]

    @Test("greetings", arguments: greetings)
    func greeting(_ fixture: ParserFixture) { check(fixture) }

    @Test("MAIL FROM and its parameters", arguments: mailCommands)
    func mailFrom(_ fixture: ParserFixture) { check(fixture) }

    @Test("RCPT TO and its parameters", arguments: rcptCommands)
    func rcptTo(_ fixture: ParserFixture) { check(fixture) }

    @Test("addresses: null sender, source routes, quoting, UTF-8", arguments: addresses)
    func address(_ fixture: ParserFixture) { check(fixture) }

    @Test("commands without arguments, unknown commands, NUL", arguments: simpleCommands)
    func simpleCommand(_ fixture: ParserFixture) { check(fixture) }

    @Test("XFORWARD attributes", arguments: xforwardCommands)
    func xforwardCommand(_ fixture: ParserFixture) { check(fixture) }

    @Test("the ByteBuffer entry point parses the readable bytes only")
    func byteBufferEntryPoint() throws {
        var buffer = ByteBuffer(string: "junkRCPT TO:<a@x.example>")
        buffer.moveReaderIndex(forwardBy: 4)
        #expect(try SMTPCommandParser().parse(buffer) == rcpt("a@x.example"))
    }

    @Test("configured ENVID and ORCPT limits apply")
    func configuredLimits() {
        var parser = SMTPCommandParser()
        parser.maximumEnvelopeIDLength = 4
        parser.maximumOriginalRecipientLength = 10
        #expect(throws: SMTPError.self) { try parser.parse(Array(text: "MAIL FROM:<> ENVID=abcde")) }
        #expect((try? parser.parse(Array(text: "MAIL FROM:<> ENVID=abcd"))) == mail("", MailParameters(envelopeID: "abcd")))
        #expect(throws: SMTPError.self) { try parser.parse(Array(text: "RCPT TO:<a@b> ORCPT=rfc822;a@bc")) }
        #expect((try? parser.parse(Array(text: "RCPT TO:<a@b> ORCPT=rfc822;a@b"))) == rcpt("a@b", orcpt: "rfc822;a@b"))
    }

    @Test("error codes name what went wrong")
    func errorCodes() {
        let parser = SMTPCommandParser()
        #expect(throws: SMTPError.self) { try parser.parse(Array(text: "FOO")) }
        #expect(code(of: "FOO", parser) == .unrecognizedCommand)
        #expect(code(of: "MAIL FROM:<a@b> FOO", parser) == .unsupportedParameter)
        #expect(code(of: "MAIL FROM:<a@b> SIZE=x", parser) == .syntaxError)
        #expect(code(of: "RCPT TO:<a..b@c>", parser) == .badAddress)
        #expect(code(of: "NOOP\0", parser) == .nulByte)
    }

    private func code(of line: String, _ parser: SMTPCommandParser) -> SMTPError.Code? {
        do {
            _ = try parser.parse(Array(text: line))
            return nil
        } catch {
            return error.code
        }
    }

    private func check(_ fixture: ParserFixture, sourceLocation: SourceLocation = #_sourceLocation) {
        let result: Result<SMTPCommand, SMTPError>
        do throws(SMTPError) {
            result = .success(try SMTPCommandParser().parse(fixture.line))
        } catch {
            result = .failure(error)
        }
        switch (fixture.expected, result) {
        case (.command(let expected), .success(let command)):
            #expect(command == expected, sourceLocation: sourceLocation)
        case (.failure(let expected), .failure(let error)):
            #expect(ExpectedReply(error.reply) == expected, "\(error)", sourceLocation: sourceLocation)
        case (.command(let expected), .failure(let error)):
            Issue.record("expected \(expected), got \(error)", sourceLocation: sourceLocation)
        case (.failure(let expected), .success(let command)):
            Issue.record("expected \(expected), got \(command)", sourceLocation: sourceLocation)
        }
    }
}
