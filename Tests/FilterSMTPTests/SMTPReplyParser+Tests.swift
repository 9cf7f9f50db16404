import NIOCore
import NIOTestUtils
import Testing

@testable import FilterSMTP

@Suite("SMTPReplyParser")
struct SMTPReplyParserTests {
    struct Fixture: Sendable, CustomStringConvertible {
        var input: String
        var expected: SMTPReply
        var description: String { input.debugDescription }
    }

    static let parsed: [Fixture] = [
        Fixture(input: "220 mx.example.com ESMTP\r\n", expected: SMTPReply(code: 220, nil, "mx.example.com ESMTP")),
        Fixture(input: "250 2.1.0 Ok\r\n", expected: SMTPReply(code: 250, EnhancedStatusCode(2, 1, 0), "Ok")),
        Fixture(
            input: "550 5.1.1 <x@example.com>: Recipient address rejected\r\n",
            expected: SMTPReply(code: 550, EnhancedStatusCode(5, 1, 1), "<x@example.com>: Recipient address rejected")
        ),
        // RFC 2034 codes count only when their class matches the reply code.
        Fixture(input: "250 5.1.1 looks like a code\r\n", expected: SMTPReply(code: 250, nil, "5.1.1 looks like a code")),
        Fixture(input: "451 4.3.0\r\n", expected: SMTPReply(code: 451, EnhancedStatusCode(4, 3, 0), "")),
        Fixture(input: "354\r\n", expected: SMTPReply(code: 354, nil, "")),
        Fixture(input: "220 bare line feed\n", expected: SMTPReply(code: 220, nil, "bare line feed")),
        Fixture(
            input: "250-mx.example.com\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n250 DSN\r\n",
            expected: SMTPReply(code: 250, lines: ["mx.example.com", "PIPELINING", "SIZE 10240000", "DSN"])
        ),
        Fixture(
            input: "452-4.5.3 Too many recipients\r\n452 4.5.3 try again later\r\n",
            expected: SMTPReply(code: 452, EnhancedStatusCode(4, 5, 3), lines: ["Too many recipients", "try again later"])
        ),
    ]

    @Test(arguments: parsed)
    func parsesReply(_ fixture: Fixture) throws {
        var parser = SMTPReplyParser()
        var buffer = ByteBuffer(string: fixture.input + "250 next")
        #expect(try parser.parse(&buffer) == fixture.expected)
        // The parser stopped exactly at the end of the reply: the partial next line is left.
        #expect(try parser.parse(&buffer) == nil)
        #expect(String(buffer: buffer) == "250 next")
    }

    @Test(arguments: parsed)
    func parsesReplyFedByteByByte(_ fixture: Fixture) throws {
        var parser = SMTPReplyParser()
        var buffer = ByteBuffer()
        var replies: [SMTPReply] = []
        for byte in fixture.input.utf8 {
            buffer.writeInteger(byte)
            if let reply = try parser.parse(&buffer) { replies.append(reply) }
        }
        #expect(replies == [fixture.expected])
        #expect(!parser.isInsideReply)
    }

    @Test
    func needsMoreBytesForIncompleteReply() throws {
        var parser = SMTPReplyParser()
        var buffer = ByteBuffer(string: "250-first\r\n250 sec")
        #expect(try parser.parse(&buffer) == nil)
        #expect(parser.isInsideReply)
        buffer.writeString("ond\r\n")
        #expect(try parser.parse(&buffer) == SMTPReply(code: 250, lines: ["first", "second"]))
    }

    @Test(arguments: [
        "abc\r\n", "25\r\n", "250x\r\n", "2500 x\r\n", "600 x\r\n", "190 x\r\n", "260 x\r\n",
        "250-first\r\n251 second\r\n", "\r\n",
    ])
    func rejectsGarbage(_ input: String) {
        var parser = SMTPReplyParser()
        var buffer = ByteBuffer(string: input)
        #expect {
            _ = try parser.parse(&buffer)
            _ = try parser.parse(&buffer)
        } throws: { ($0 as? SMTPClientError)?.code == .protocolViolation }
    }

    @Test
    func enforcesLineLength() throws {
        var parser = SMTPReplyParser(limits: .init(maximumLineLength: 16, maximumLineCount: 4))
        var fits = ByteBuffer(string: "250 0123456789\r\n")
        #expect(try parser.parse(&fits) == SMTPReply(code: 250, nil, "0123456789"))
        var complete = ByteBuffer(string: "250 01234567890\r\n")
        #expect(throws: SMTPClientError.self) { try parser.parse(&complete) }
        // A line that never ends must not be buffered without bound.
        var endless = ByteBuffer(string: "250 0123456789abcdef")
        var fresh = SMTPReplyParser(limits: .init(maximumLineLength: 16, maximumLineCount: 4))
        #expect(throws: SMTPClientError.self) { try fresh.parse(&endless) }
    }

    @Test
    func enforcesLineCount() {
        var parser = SMTPReplyParser(limits: .init(maximumLineLength: 100, maximumLineCount: 3))
        var buffer = ByteBuffer(string: "250-a\r\n250-b\r\n250-c\r\n250 d\r\n")
        #expect { try parser.parse(&buffer) } throws: {
            ($0 as? SMTPClientError)?.message.contains("more than 3 lines") == true
        }
    }

    @Test
    func decoderPassesByteToMessageVerifier() throws {
        let input = "220 hello\r\n250-2.0.0 a\r\n250 2.0.0 b\r\n554 5.7.1 no\r\n"
        try ByteToMessageDecoderVerifier.verifyDecoder(
            stringInputOutputPairs: [
                (
                    input,
                    [
                        SMTPReply(code: 220, nil, "hello"), SMTPReply(code: 250, EnhancedStatusCode(2, 0, 0), lines: ["a", "b"]),
                        SMTPReply(code: 554, EnhancedStatusCode(5, 7, 1), "no"),
                    ]
                )
            ],
            decoderFactory: { SMTPReplyDecoder(limits: .init()) }
        )
    }
}
