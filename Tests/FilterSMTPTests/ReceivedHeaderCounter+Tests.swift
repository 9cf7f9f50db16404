import FilterCore
import FilterSMTP
import Foundation
import NIOCore
import Testing

struct ReceivedCountFixture: Sendable, CustomTestStringConvertible {
    let message: String
    let count: Int

    var testDescription: String { message.prefix(60).debugDescription }
}

@Suite("ReceivedHeaderCounter")
struct ReceivedHeaderCounterTests {
    static let fixtures: [ReceivedCountFixture] = [
        ReceivedCountFixture(message: "", count: 0),
        ReceivedCountFixture(message: "Subject: x\r\n\r\nbody\r\n", count: 0),
        ReceivedCountFixture(message: "Received: from a\r\nReceived: from b\r\nSubject: x\r\n\r\nbody\r\n", count: 2),
        ReceivedCountFixture(message: "received: a\r\nRECEIVED: b\r\nReCeIvEd: c\r\n\r\n", count: 3),
        ReceivedCountFixture(message: "Received : a\r\nReceived\t: b\r\nReceived:c\r\n\r\n", count: 3),
        ReceivedCountFixture(message: "Received    \t : a\r\n\r\n", count: 1),
        // Folded continuation lines are part of the field above them.
        ReceivedCountFixture(
            message: "Received: from a\r\n\tby b\r\n Received: not a field\r\n\tReceived: nor this\r\n\r\n", count: 1),
        // Fields that merely start like Received.
        ReceivedCountFixture(message: "Received-SPF: pass\r\nReceivedX: 1\r\nReceive: 2\r\nX-Received: 3\r\n\r\n", count: 0),
        ReceivedCountFixture(message: "Received\r\nReceived x: y\r\n\r\n", count: 0),
        // The header section ends at the first empty line; Received lines in the body are text.
        ReceivedCountFixture(message: "Received: a\r\n\r\nReceived: b\r\nReceived: c\r\n", count: 1),
        ReceivedCountFixture(message: "Received: a\n\nReceived: b\n", count: 1),
        ReceivedCountFixture(message: "Received: a\nReceived: b\n\nReceived: c\n", count: 2),
        ReceivedCountFixture(message: "\r\nReceived: a\r\n", count: 0),
        // A long field line is skipped to its end, whatever it contains.
        ReceivedCountFixture(
            message: "Subject: " + String(repeating: "x", count: 5000) + " Received: y\r\nReceived: z\r\n\r\n", count: 1),
        ReceivedCountFixture(message: "Received: no line end", count: 0),
    ]

    @Test("counts Received fields of the header section", arguments: fixtures)
    func count(_ fixture: ReceivedCountFixture) {
        let bytes = Array(fixture.message.utf8)
        #expect(count(chunks: [bytes]) == fixture.count)
        #expect(count(chunks: bytes.map { [$0] }) == fixture.count, "byte by byte")
        for split in 0...bytes.count {
            #expect(count(chunks: [Array(bytes[..<split]), Array(bytes[split...])]) == fixture.count, "split at \(split)")
        }
    }

    @Test("a field name split across chunks is still recognized")
    func splitFieldName() {
        #expect(count(chunks: [Array("Rec".utf8), Array("eived".utf8), Array(" ".utf8), Array(":x\r\n\r\n".utf8)]) == 1)
    }

    @Test("many hops are counted")
    func manyHops() {
        let header = String(repeating: "Received: from relay.example by next.example; date\r\n", count: 60)
        #expect(count(chunks: [Array((header + "Subject: loop\r\n\r\nbody\r\n").utf8)]) == 60)
    }

    private func count(chunks: [[UInt8]]) -> Int {
        var counter = ReceivedHeaderCounter()
        for chunk in chunks { counter.scan(ByteBuffer(bytes: chunk)) }
        return counter.count
    }
}

@Suite("ReceivedHeader")
struct ReceivedHeaderTests {
    @Test("values from the peer cannot break the field")
    func hostileValuesAreNeutralized() throws {
        let queueID = try #require(QueueID(rawValue: "4T3Z9xQ0Jw"))
        let field = ReceivedHeader.make(
            peerHelo: "evil (x)\r\nBcc: a@b; [1]<2>\u{2028}\u{A0}é", peerAddress: "10.0.0.1]\n(", hostname: "filter.test",
            protocolName: "ESMTP", queueID: queueID, recipient: "a b@c", date: Date(timeIntervalSince1970: 0))
        #expect(
            field
                == "Received: from evil__x___Bcc:_a@b___1__2___é ([10.0.0.1___])\r\n\tby filter.test (filterd) with ESMTP id 4T3Z9xQ0Jw\r\n\tfor <a_b@c>; Thu, 1 Jan 1970 00:00:00 +0000\r\n")
    }

    @Test("a long HELO name is cut at 255 characters")
    func longValuesAreCut() throws {
        let queueID = try #require(QueueID(rawValue: "4T3Z9xQ0Jw"))
        let field = ReceivedHeader.make(
            peerHelo: String(repeating: "h", count: 1000), peerAddress: nil, hostname: "filter.test", protocolName: "SMTP",
            queueID: queueID, recipient: nil, date: Date(timeIntervalSince1970: 0))
        #expect(field.hasPrefix("Received: from \(String(repeating: "h", count: 255)) ([unknown])\r\n"))
    }
}
