import NIOCore
import Testing

@testable import FilterProcessors

@Suite struct ClamdProtocolTests {
    @Test func instreamIsChunkedBigEndianAndEndsWithZero() {
        let encoded = ClamdProtocol.encodeInstream(Array("0123456789".utf8), chunkSize: 4)
        let expected: [UInt8] = Array("zINSTREAM\0".utf8)
            + [0, 0, 0, 4] + Array("0123".utf8) + [0, 0, 0, 4] + Array("4567".utf8) + [0, 0, 0, 2] + Array("89".utf8)
            + [0, 0, 0, 0]
        #expect(Array(encoded.readableBytesView) == expected)
    }

    @Test func anEmptyStreamIsJustTheTerminator() {
        #expect(Array(ClamdProtocol.encodeInstream([], chunkSize: 8).readableBytesView) == Array("zINSTREAM\0".utf8) + [0, 0, 0, 0])
    }

    @Test(arguments: [
        ("stream: OK\0", nil), ("stream: Eicar-Signature FOUND\0", "Eicar-Signature"),
        ("stream: Filterd-Test-EICAR.UNOFFICIAL FOUND\0", "Filterd-Test-EICAR.UNOFFICIAL"),
        ("stream: Name With Spaces FOUND\n", "Name With Spaces"),
    ] as [(String, String?)])
    func answersAreRead(answer: String, signature: String?) throws {
        #expect(try ClamdProtocol.parseInstreamResponse(ByteBuffer(string: answer)) == ClamdScanResult(signature: signature))
    }

    @Test func theSizeLimitIsItsOwnError() {
        #expect { try ClamdProtocol.parseInstreamResponse(ByteBuffer(string: "INSTREAM size limit exceeded. ERROR\0")) } throws: { error in
            (error as? DaemonError)?.code == .messageTooLarge
        }
    }

    @Test func otherErrorsAreTheDaemons() {
        #expect { try ClamdProtocol.parseInstreamResponse(ByteBuffer(string: "stream: Can't allocate memory ERROR\0")) } throws: { error in
            (error as? DaemonError)?.code == .daemonFailed
        }
    }

    @Test(arguments: ["", "stream: OK", "stream: FOUND\0", "UNKNOWN COMMAND\0", "stream: maybe\0", "PONG\0"])
    func malformedAnswersAreInvalid(answer: String) {
        #expect { try ClamdProtocol.parseInstreamResponse(ByteBuffer(string: answer)) } throws: { error in
            (error as? DaemonError)?.code == .invalidResponse
        }
    }

    @Test func pong() throws {
        try ClamdProtocol.parsePong(ByteBuffer(string: "PONG\0"))
        #expect(throws: DaemonError.self) { try ClamdProtocol.parsePong(ByteBuffer(string: "UNKNOWN COMMAND\0")) }
    }
}
