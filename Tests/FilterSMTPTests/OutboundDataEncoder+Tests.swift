import NIOCore
import Testing

@testable import FilterSMTP

@Suite("OutboundDataEncoder")
struct OutboundDataEncoderTests {
    /// Encodes `chunks` and finishes; returns the wire bytes as a string.
    static func encode(_ chunks: [String]) -> String {
        var encoder = OutboundDataEncoder()
        var output = ByteBuffer()
        for chunk in chunks { encoder.encode(ByteBuffer(string: chunk), into: &output) }
        encoder.finish(into: &output)
        return String(buffer: output)
    }

    /// Every way to cut `text` into one, two or three chunks (cuts at UTF-8 offsets).
    static func splits(of text: String) -> [[String]] {
        let bytes = Array(text.utf8)
        let piece = { (range: Range<Int>) in String(decoding: bytes[range], as: UTF8.self) }
        var result: [[String]] = [[text]]
        for first in 0...bytes.count {
            result.append([piece(0..<first), piece(first..<bytes.count)])
            for second in first...bytes.count {
                result.append([piece(0..<first), piece(first..<second), piece(second..<bytes.count)])
            }
        }
        return result
    }

    @Test(arguments: [
        ("", ".\r\n"),
        ("a", "a\r\n.\r\n"),
        ("a\r\n", "a\r\n.\r\n"),
        ("a\n", "a\r\n.\r\n"),
        ("a\r", "a\r\n.\r\n"),
        ("a\rb\nc\r\nd", "a\r\nb\r\nc\r\nd\r\n.\r\n"),
        ("a\n\r", "a\r\n\r\n.\r\n"),
        ("a\r\r\n", "a\r\n\r\n.\r\n"),
        (".", "..\r\n.\r\n"),
        (".a\r\n..b\r\nc.d\r\n", "..a\r\n...b\r\nc.d\r\n.\r\n"),
        ("\r\n.\r\n", "\r\n..\r\n.\r\n"),
        ("x\n.\ny", "x\r\n..\r\ny\r\n.\r\n"),
    ])
    func encodesCanonically(_ input: String, _ expected: String) {
        #expect(Self.encode([input]) == expected)
    }

    static let smugglingProbes = ["\n.\n", "\r.\r", "\n.\r\n", "\r\n.\n", "\r\n.\r", "\r.\r\n"]

    @Test(arguments: smugglingProbes)
    func neutralizesSmugglingProbeInEverySplit(_ probe: String) {
        let message = "Subject: probe\r\n\r\nbefore" + probe + "MAIL FROM:<evil@example.com>\r\nafter"
        let expected = Self.encode([message])
        #expect(expected.hasSuffix("after\r\n.\r\n"))
        for chunks in Self.splits(of: message) {
            let output = Self.encode(chunks)
            #expect(output == expected, "split \(chunks.map(\.debugDescription))")
            Self.expectCanonical(output)
        }
    }

    @Test
    func randomContentInRandomChunksIsCanonical() {
        var generator = SplitMix64(seed: 0x5EED)
        let alphabet = Array("\r\n.a".utf8)
        for _ in 0..<500 {
            let length = Int(generator.next() % 40)
            let bytes = (0..<length).map { _ in alphabet[Int(generator.next() % 4)] }
            let whole = Self.encode([String(decoding: bytes, as: UTF8.self)])
            var chunks: [String] = []
            var start = 0
            while start < bytes.count {
                let end = min(bytes.count, start + 1 + Int(generator.next() % 5))
                chunks.append(String(decoding: bytes[start..<end], as: UTF8.self))
                start = end
            }
            let output = Self.encode(chunks)
            #expect(output == whole)
            Self.expectCanonical(output)
        }
    }

    @Test
    func finishResetsForTheNextMessage() {
        var encoder = OutboundDataEncoder()
        var output = ByteBuffer()
        encoder.encode(ByteBuffer(string: "a\r"), into: &output)
        encoder.finish(into: &output)
        encoder.encode(ByteBuffer(string: ".b"), into: &output)
        encoder.finish(into: &output)
        #expect(String(buffer: output) == "a\r\n.\r\n..b\r\n.\r\n")
    }

    /// Only CRLF line ends, and `CRLF . CRLF` only as the final terminator.
    static func expectCanonical(_ output: String, sourceLocation: SourceLocation = #_sourceLocation) {
        let bytes = Array(output.utf8)
        #expect(bytes.suffix(3) == Array(".\r\n".utf8), sourceLocation: sourceLocation)
        for (index, byte) in bytes.enumerated() {
            if byte == UInt8(ascii: "\r") {
                #expect(index + 1 < bytes.count && bytes[index + 1] == UInt8(ascii: "\n"), sourceLocation: sourceLocation)
            }
            if byte == UInt8(ascii: "\n") {
                #expect(index > 0 && bytes[index - 1] == UInt8(ascii: "\r"), sourceLocation: sourceLocation)
            }
        }
        let terminator = Array("\r\n.\r\n".utf8)
        let framed = Array("\r\n".utf8) + bytes
        let hits = (0...(framed.count - terminator.count)).filter { Array(framed[$0..<$0 + terminator.count]) == terminator }
        #expect(hits == [framed.count - terminator.count], sourceLocation: sourceLocation)
    }
}
