import Foundation
import Testing

@testable import FilterCore

/// The hand-written JSON of the spool's envelope files, request metadata and events must be the
/// bytes `JSONEncoder` gives for the same values through their Codable conformances, which
/// stay the reference (and what reads them back).
@Suite("CompactJSONWriter")
struct CompactJSONWriterTests {
    /// `JSONEncoder` set up as the spool and the wire protocol were before the hand-written
    /// writer: sorted keys, unescaped slashes, Foundation's own RFC 3339 formatter.
    static func referenceJSON(_ value: some Encodable) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.singleValueContainer()
            try container.encode(date.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true)))
        }
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }

    /// Every character class the escaping treats differently.
    static let awkward = "a\"b\\c/d\u{0}\u{1}\u{8}\u{9}\u{A}\u{B}\u{C}\u{D}\u{1F} \u{7F}é日本\u{2028}😀</script>"

    static func date(_ seconds: TimeInterval) -> Date { Date(timeIntervalSince1970: seconds) }

    static let fullEntry = SpoolEntry(
        queueID: QueueID(rawValue: "4T3Z9xQ0Jw")!,
        envelope: Envelope(
            mailFrom: "sender+\(awkward)@example.org",
            parameters: MailParameters(size: 4096, body: .eightBitMIME, smtpUTF8: true, ret: .headers, envelopeID: awkward),
            recipients: [
                EnvelopeRecipient(address: "a@example.test", notify: [.failure, .delay], originalRecipient: "rfc822;a+2Bb@example.test"),
                EnvelopeRecipient(address: "b@example.test", notify: .never),
                EnvelopeRecipient(address: "ü@example.test"),
            ],
            client: ClientInfo(
                name: "mx.example.net", address: "IPV6:2001:db8::1", port: "25", proto: "ESMTP", helo: awkward,
                ident: "ABC123", source: "REMOTE"),
            peerHelo: "postfix.test", peerAddress: "127.0.0.1"),
        receivedAt: date(1_795_650_610.123_456),
        messageSize: 4321,
        recipients: [
            {
                var delivery = RecipientDelivery(
                    state: .deferred, detail: "451 4.3.0 \(awkward)", updatedAt: date(1_795_650_611.999_9),
                    requestID: "req-1",
                    decision: RecipientDecision(
                        action: .spam, source: .client,
                        reply: FilterReply(
                            id: "req-1", action: .spam, reason: awkward, forward: ["x@example.test"],
                            addHeaders: [.init(name: "X-Spam", value: awkward)], subjectTag: "[SPAM]", score: 7.25,
                            tags: ["bayes", "a/b"], retryAfter: 30,
                            processors: [.init(name: "spamassassin", outcome: "spam", ms: 12)])),
                    heldSince: date(1_795_650_612.000_4), heldUntil: date(1_795_650_900.5))
                delivery.delayReportedAt = date(1_795_650_700.25)
                return delivery
            }(),
            RecipientDelivery(
                state: RecipientState(name: "quarantined", isFinal: true), updatedAt: date(1_795_650_613),
                decision: RecipientDecision(action: .quarantine, source: .deadline)),
            RecipientDelivery(state: .pending, updatedAt: date(0.000_9)),
        ],
        attempts: 3,
        nextAttemptAt: date(1_795_651_000.062_5))

    static let plainEntry = SpoolEntry(
        queueID: QueueID(rawValue: "4T3Z9xQ0Jx")!,
        envelope: Envelope(mailFrom: "", recipients: [EnvelopeRecipient(address: "a@example.test")]),
        receivedAt: date(1_795_650_610.5),
        messageSize: 0,
        recipients: [RecipientDelivery(state: .pending, updatedAt: date(1_795_650_610.5))])

    @Test(arguments: [fullEntry, plainEntry])
    func spoolEntryIsWrittenAsJSONEncoderWritesIt(entry: SpoolEntry) throws {
        let written = String(decoding: try Spool.encode(entry), as: UTF8.self)
        #expect(written == (try Self.referenceJSON(Spool.Record(version: 1, entry: entry))))
    }

    @Test func spoolEntryReadsBackEqual() throws {
        var entry = Self.plainEntry
        entry.envelope = Self.fullEntry.envelope
        entry.recipients = Self.fullEntry.envelope.recipients.map { _ in
            RecipientDelivery(state: .delivered, detail: Self.awkward, updatedAt: Self.date(1_795_650_610.25))
        }
        #expect(try Spool.decode(try Spool.encode(entry), path: "test.env") == entry)
    }

    @Test func requestMetadataIsWrittenAsJSONEncoderWritesIt() throws {
        let full = FilterRequestMetadata(
            id: "req/\(Self.awkward)", queueId: "4T3Z9xQ0Jw", received: Self.date(1_795_650_610.123_456),
            deadline: Self.date(1_795_650_670.999_99),
            envelope: .init(
                mailFrom: Self.awkward, recipient: "a@example.test", owner: "a@example.test", orcpt: "rfc822;a@example.test",
                parameters: .init(body: "8BITMIME", smtputf8: true, ret: "FULL", envid: Self.awkward, notify: ["SUCCESS", "DELAY"])),
            client: .init(name: "mx.example.net", address: "IPV6:::1", helo: Self.awkward, protocol: "ESMTP"),
            size: 123_456, truncated: true)
        let bare = FilterRequestMetadata(
            id: "1", queueId: "q", received: Self.date(0), deadline: Self.date(60),
            envelope: .init(mailFrom: "", recipient: "b@example.test", owner: "b@example.test"),
            client: .init(), size: 0, truncated: false)
        for metadata in [full, bare] {
            #expect(try metadata.wireJSON() == (try Self.referenceJSON(metadata)))
        }
    }

    @Test func outcomeEventIsWrittenAsJSONEncoderWritesIt() throws {
        let full = OutcomeEvent(
            id: "ev-\(Self.awkward)", queueID: "4T3Z9xQ0Jw", owner: "a@example.test", recipient: "a+x@example.test",
            sender: Self.awkward, action: .quarantine, source: .client, state: "quarantined", reason: Self.awkward,
            detail: "250 2.0.0 Ok", at: Self.date(1_795_650_610.123_456))
        let bare = OutcomeEvent(
            id: "1", queueID: "q", owner: "b@example.test", recipient: "b@example.test", sender: "", action: .pass,
            source: .unsubscribed, state: "delivered", at: Self.date(0))
        for event in [full, bare] {
            #expect(String(decoding: try event.wireJSON(), as: UTF8.self) == (try Self.referenceJSON(event)))
        }
    }

    @Test func datesAreFormattedAsFoundationFormatsThem() {
        var generator = SystemRandomNumberGenerator()
        let style = Date.ISO8601FormatStyle(includingFractionalSeconds: true)
        var seconds: [TimeInterval] = [0, 0.000_4, 0.999_9, -0.000_4, 951_782_400.5, 4_102_444_799.999]
        for _ in 0..<2000 {
            seconds.append(TimeInterval.random(in: 1_600_000_000...2_000_000_000, using: &generator))
            seconds.append(TimeInterval(Int.random(in: 1_600_000_000_000...2_000_000_000_000, using: &generator)) / 1000)
        }
        let mismatches = seconds.map(Self.date).filter { WireJSON.formatDate($0) != $0.formatted(style) }
        #expect(mismatches.isEmpty, "first: \(mismatches.prefix(3).map { "\($0.timeIntervalSince1970)" })")
    }
}
