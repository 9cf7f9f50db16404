import NIOCore
import Testing

@testable import FilterProcessors

/// Answers recorded from Debian 12's spamd 4.0.1 (`--local`), for the GTUBE and a plain message.
enum SpamdFixtures {
    static let symbolsGTUBE =
        "SPAMD/1.1 0 EX_OK\r\nContent-length: 55\r\nSpam: True ; 1000.0 / 5.0\r\n\r\nGTUBE,MSGID_SHORT,NO_RECEIVED,NO_RELAYS,TVD_SPACE_RATIO"
    static let symbolsHam =
        "SPAMD/1.1 0 EX_OK\r\nContent-length: 33\r\nSpam: False ; -0.0 / 5.0\r\n\r\nMSGID_SHORT,NO_RECEIVED,NO_RELAYS"
    static let checkHam = "SPAMD/1.1 0 EX_OK\r\nSpam: False ; -0.0 / 5.0\r\n\r\n"
    static let reportBody = """
        Spam detection software, running on the system "vm",
        has identified this incoming email as possible spam.

        Content preview:  XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X

        Content analysis details:   (1000.0 points, 5.0 required)

         pts rule name              description
        ---- ---------------------- --------------------------------------------------
        -0.0 NO_RECEIVED            Informational: message has no Received headers
         0.0 MSGID_SHORT            Message-ID is unusually short
        1000 GTUBE                  BODY: Generic Test for Unsolicited Bulk Email
         2.5 LONG_RULE              A description that is long enough that it
                                    wraps onto a second line


        """
    static var reportGTUBE: String {
        "SPAMD/1.1 0 EX_OK\r\nContent-length: \(reportBody.utf8.count)\r\nSpam: True ; 1000.0 / 5.0\r\n\r\n" + reportBody
    }
}

@Suite struct SpamdProtocolTests {
    @Test func aRequestCarriesItsLengthAndOptionalUser() {
        let message = Array("Subject: x\r\n\r\nhi\r\n".utf8)
        #expect(String(buffer: SpamdProtocol.encodeRequest(.symbols, message: message, user: nil))
            == "SYMBOLS SPAMC/1.5\r\nContent-length: 18\r\n\r\nSubject: x\r\n\r\nhi\r\n")
        #expect(String(buffer: SpamdProtocol.encodeRequest(.report, message: message, user: "alice"))
            == "REPORT SPAMC/1.5\r\nContent-length: 18\r\nUser: alice\r\n\r\nSubject: x\r\n\r\nhi\r\n")
        #expect(String(buffer: SpamdProtocol.encodeRequest(.ping, message: [], user: nil)) == "PING SPAMC/1.5\r\n\r\n")
    }

    @Test func symbolsOfSpam() throws {
        let result = try SpamdProtocol.parseResponse(ByteBuffer(string: SpamdFixtures.symbolsGTUBE), command: .symbols)
        #expect(result == SpamdResult(
            isSpam: true, score: 1000, threshold: 5, symbols: ["GTUBE", "MSGID_SHORT", "NO_RECEIVED", "NO_RELAYS", "TVD_SPACE_RATIO"]))
    }

    @Test func symbolsOfHam() throws {
        let result = try SpamdProtocol.parseResponse(ByteBuffer(string: SpamdFixtures.symbolsHam), command: .symbols)
        #expect(!result.isSpam)
        #expect(result.score == 0)
        #expect(result.symbols == ["MSGID_SHORT", "NO_RECEIVED", "NO_RELAYS"])
    }

    @Test func checkHasNoBody() throws {
        let result = try SpamdProtocol.parseResponse(ByteBuffer(string: SpamdFixtures.checkHam), command: .check)
        #expect(result == SpamdResult(isSpam: false, score: 0, threshold: 5))
    }

    @Test func theReportTableGivesRowsAndSymbols() throws {
        let result = try SpamdProtocol.parseResponse(ByteBuffer(string: SpamdFixtures.reportGTUBE), command: .report)
        #expect(result.symbols == ["NO_RECEIVED", "MSGID_SHORT", "GTUBE", "LONG_RULE"])
        #expect(result.reportLines == [
            "-0.0 NO_RECEIVED Informational: message has no Received headers",
            "0.0 MSGID_SHORT Message-ID is unusually short",
            "1000 GTUBE BODY: Generic Test for Unsolicited Bulk Email",
            "2.5 LONG_RULE A description that is long enough that it wraps onto a second line",
        ])
    }

    @Test(arguments: ["Spam: Yes ; 7.5 / 5.0", "spam:True;7.5/5.0"])
    func olderAndTerseSpamHeadersAreRead(header: String) throws {
        let result = try SpamdProtocol.parseResponse(ByteBuffer(string: "SPAMD/1.1 0 EX_OK\r\n\(header)\r\n\r\n"), command: .check)
        #expect(result == SpamdResult(isSpam: true, score: 7.5, threshold: 5))
    }

    @Test func aNonZeroStatusIsTheDaemonsError() {
        #expect {
            try SpamdProtocol.parseResponse(ByteBuffer(string: "SPAMD/1.0 76 Bad header line: Content-length: x\r\n\r\n"), command: .check)
        } throws: { error in
            (error as? DaemonError)?.code == .daemonFailed
                && (error as? DaemonError)?.message == "spamd refused the message: status 76 Bad header line: Content-length: x"
        }
    }

    @Test(arguments: [
        "", "HTTP/1.1 200 OK\r\n\r\n", "SPAMD/1.1 0 EX_OK\r\nSpam: True ; 1000.0 / 5.0",
        "SPAMD/1.1 0 EX_OK\r\n\r\n", "SPAMD/1.1 0 EX_OK\r\nSpam: Maybe ; 1 / 5\r\n\r\n", "SPAMD/1.1 0 EX_OK\r\nSpam: True ; lots\r\n\r\n",
        "SPAMD/1.1 0 EX_OK\r\nContent-length: 99\r\nSpam: True ; 1000.0 / 5.0\r\n\r\nGTUBE", "SPAMD/1.1 0 EX_OK\r\nno colon\r\n\r\n",
        "SPAMD/1.1 zero EX_OK\r\nSpam: True ; 1 / 5\r\n\r\n",
    ])
    func malformedAnswersAreInvalid(answer: String) {
        #expect { try SpamdProtocol.parseResponse(ByteBuffer(string: answer), command: .symbols) } throws: { error in
            (error as? DaemonError)?.code == .invalidResponse
        }
    }

    @Test func pong() throws {
        try SpamdProtocol.parsePong(ByteBuffer(string: "SPAMD/1.5 0 PONG\r\n"))
        #expect(throws: DaemonError.self) { try SpamdProtocol.parsePong(ByteBuffer(string: "SPAMD/1.5 76 Bad\r\n")) }
    }
}
