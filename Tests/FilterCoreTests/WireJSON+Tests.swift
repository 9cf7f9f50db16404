import FilterCore
import Foundation
import Testing

@Suite("WireJSON")
struct WireJSONTests {
    /// 2026-11-25T23:50:10.500Z: half a second is exact in binary, so round trips compare equal.
    static let received = Date(timeIntervalSince1970: 1_795_650_610.5)

    // MARK: Replies

    @Test func replyIsWrittenWithSortedKeysAndUnescapedSlashes() throws {
        let reply = FilterReply(id: "a/b", action: .pass, reason: "ok </script>", tags: ["x/y"])
        let text = String(decoding: try reply.wireJSON(), as: UTF8.self)
        #expect(text == #"{"action":"pass","id":"a/b","reason":"ok </script>","tags":["x/y"],"version":1}"#)
    }

    @Test func replyRoundTripsWithEveryField() throws {
        let reply = FilterReply(
            id: "9f1c", action: .spam, reason: "Bayes 99%", forward: ["a@example.test"],
            addHeaders: [.init(name: "X-Spam-Report", value: "ünïcode \"quoted\"")], subjectTag: "[SPAM]",
            score: 7.25, tags: ["bayes"], retryAfter: 30,
            processors: [.init(name: "spamassassin", outcome: "spam", ms: 12)])
        #expect(try FilterReply(wireJSON: try reply.wireJSON()) == reply)
    }

    @Test func scoreThatIsNotANumberCannotBeWritten() {
        let reply = FilterReply(id: "1", action: .spam, score: .nan)
        do {
            _ = try reply.wireJSON()
            Issue.record("NaN was written")
        } catch {
            #expect(error.code == .unencodable)
            #expect(error.field == "score")
        }
    }

    /// One reply body and what reading it must give: `nil` for success, else the error code and
    /// the field to blame.
    struct ReplyCase: Sendable, CustomTestStringConvertible {
        var json: String
        var code: WireProtocolError.Code?
        var field: String?
        var testDescription: String { json }
    }

    static let replyCases: [ReplyCase] = [
        ReplyCase(json: #"{"version":1,"id":"r1","action":"pass"}"#),
        ReplyCase(json: #"{"version":1,"id":"r1","action":"deny","reason":null,"forward":null,"score":3}"#),
        ReplyCase(
            json: #"{"version":1,"id":"r1","action":"quarantine","x-vendor":{"deep":[1,{"a":null}]},"future":true}"#),
        ReplyCase(json: "", code: .malformedJSON),
        ReplyCase(json: "{", code: .malformedJSON),
        ReplyCase(json: #"{"version":1,"id":"r1","action":"pass""#, code: .malformedJSON),
        ReplyCase(json: "[]", code: .malformedJSON),
        ReplyCase(json: #""pass""#, code: .malformedJSON),
        ReplyCase(json: #"{"id":"r1","action":"pass"}"#, code: .wrongVersion, field: "version"),
        ReplyCase(json: #"{"version":2,"id":"r1","action":"pass"}"#, code: .wrongVersion, field: "version"),
        ReplyCase(json: #"{"version":"1","id":"r1","action":"pass"}"#, code: .invalidFieldType, field: "version"),
        ReplyCase(json: #"{"version":1,"action":"pass"}"#, code: .missingID, field: "id"),
        ReplyCase(json: #"{"version":1,"id":null,"action":"pass"}"#, code: .missingID, field: "id"),
        ReplyCase(json: #"{"version":1,"id":"","action":"pass"}"#, code: .missingID, field: "id"),
        ReplyCase(json: #"{"version":1,"id":42,"action":"pass"}"#, code: .invalidFieldType, field: "id"),
        ReplyCase(json: #"{"version":1,"id":"r1"}"#, code: .missingAction, field: "action"),
        ReplyCase(json: #"{"version":1,"id":"r1","action":null}"#, code: .missingAction, field: "action"),
        ReplyCase(json: #"{"version":1,"id":"r1","action":"explode"}"#, code: .unknownAction, field: "action"),
        ReplyCase(json: #"{"version":1,"id":"r1","action":"PASS"}"#, code: .unknownAction, field: "action"),
        ReplyCase(json: #"{"version":1,"id":"r1","action":["pass"]}"#, code: .invalidFieldType, field: "action"),
        ReplyCase(json: #"{"version":1,"id":"r1","action":"forward","forward":"a@x"}"#, code: .invalidFieldType, field: "forward"),
        ReplyCase(
            json: #"{"version":1,"id":"r1","action":"pass","addHeaders":[{"name":1,"value":"v"}]}"#,
            code: .invalidFieldType, field: "addHeaders[0].name"),
        ReplyCase(
            json: #"{"version":1,"id":"r1","action":"pass","addHeaders":[{"name":"X-A"}]}"#, code: .missingField,
            field: "addHeaders[0].value"),
        ReplyCase(json: #"{"version":1,"id":"r1","action":"spam","score":"high"}"#, code: .invalidFieldType, field: "score"),
        ReplyCase(
            json: #"{"version":1,"id":"r1","action":"pending","retryAfter":"soon"}"#, code: .invalidFieldType,
            field: "retryAfter"),
    ]

    @Test(arguments: replyCases)
    func replyIsReadOrRefusedWithTheRightCode(_ testCase: ReplyCase) {
        do {
            let reply = try FilterReply(wireJSON: Array(testCase.json.utf8))
            #expect(testCase.code == nil, "read as \(reply)")
            #expect(reply.id == "r1")
        } catch {
            #expect(error.code == testCase.code, "\(error)")
            #expect(error.field == testCase.field)
            #expect(!error.message.isEmpty)
        }
    }

    @Test func replyThatIsNotUTF8IsMalformed() {
        do {
            _ = try FilterReply(wireJSON: [0x7B, 0xFF, 0xFE, 0x7D])
            Issue.record("invalid UTF-8 was read")
        } catch {
            #expect(error.code == .malformedJSON)
        }
    }

    // MARK: Request metadata

    static func metadata() -> FilterRequestMetadata {
        FilterRequestMetadata(
            id: "0b5e/7", queueId: "4Q1abc", received: received, deadline: received.addingTimeInterval(60),
            envelope: .init(
                mailFrom: "jörg@example.test", recipient: "a+b@example.test", owner: "a@example.test",
                orcpt: "rfc822;a+2Bb@example.test",
                parameters: .init(body: "8BITMIME", smtputf8: true, ret: "HDRS", envid: "E1", notify: ["FAILURE"])),
            client: .init(name: "mx.example.test", address: "IPV6:2001:db8::1", helo: "mx", protocol: "ESMTP"),
            size: 1234, truncated: false)
    }

    @Test func metadataIsWrittenInItsStableForm() throws {
        let expected = #"{"client":{"address":"IPV6:2001:db8::1","helo":"mx","name":"mx.example.test","protocol":"ESMTP"},"#
            + #""deadline":"2026-11-25T23:51:10.500Z","envelope":{"mailFrom":"jörg@example.test","orcpt":"rfc822;a+2Bb@example.test","#
            + #""owner":"a@example.test","parameters":{"body":"8BITMIME","envid":"E1","notify":["FAILURE"],"ret":"HDRS","smtputf8":true},"#
            + #""recipient":"a+b@example.test"},"id":"0b5e/7","queueId":"4Q1abc","received":"2026-11-25T23:50:10.500Z","#
            + #""size":1234,"truncated":false,"version":1}"#
        #expect(try Self.metadata().wireJSON() == expected)
    }

    @Test func metadataRoundTrips() throws {
        let metadata = Self.metadata()
        #expect(try FilterRequestMetadata(wireJSON: try metadata.wireJSON()) == metadata)
    }

    @Test(arguments: [
        ("2026-11-25T23:50:10Z", 1_795_650_610.0),
        ("2026-11-25T23:50:10.5Z", 1_795_650_610.5),
        ("2026-11-25T23:50:10.500Z", 1_795_650_610.5),
        ("2026-11-26T01:50:10+02:00", 1_795_650_610.0),
        ("2026-11-26T01:50:10.250+02:00", 1_795_650_610.25),
    ])
    func datesAreReadInEveryRFC3339Form(_ text: String, _ seconds: Double) {
        #expect(WireJSON.parseDate(text) == Date(timeIntervalSince1970: seconds))
    }

    @Test func metadataIgnoresUnknownFieldsAndChecksTheRest() throws {
        let minimal = #"{"version":1,"id":"r1","queueId":"Q","received":"2026-11-25T23:50:10Z","#
            + #""deadline":"2026-11-25T23:51:10Z","envelope":{"mailFrom":"","recipient":"b@x","owner":"b@x","#
            + #""parameters":{"smtputf8":false,"x":1}},"client":{},"size":1,"truncated":true,"extra":[1,2]}"#
        let metadata = try FilterRequestMetadata(wireJSON: minimal)
        #expect(metadata.envelope.mailFrom == "")
        #expect(metadata.client == .init())
        #expect(metadata.received == Date(timeIntervalSince1970: 1_795_650_610))

        let failures: [(String, WireProtocolError.Code, String?)] = [
            (minimal.replacingOccurrences(of: #""version":1"#, with: #""version":3"#), .wrongVersion, "version"),
            (minimal.replacingOccurrences(of: #""id":"r1","#, with: ""), .missingID, "id"),
            (minimal.replacingOccurrences(of: #""queueId":"Q","#, with: ""), .missingField, "queueId"),
            (minimal.replacingOccurrences(of: #""size":1"#, with: #""size":"1""#), .invalidFieldType, "size"),
            (minimal.replacingOccurrences(of: "2026-11-25T23:50:10Z", with: "yesterday"), .invalidFieldType, "received"),
            ("not json", .malformedJSON, nil),
        ]
        for (text, code, field) in failures {
            do {
                _ = try FilterRequestMetadata(wireJSON: text)
                Issue.record("read \(text)")
            } catch {
                #expect(error.code == code, "\(text): \(error)")
                #expect(error.field == field, "\(text): \(error)")
            }
        }
    }

    @Test func metadataIsBuiltFromTheEnvelope() {
        let queueID = QueueID.generate(at: Self.received)
        let recipient = EnvelopeRecipient(
            address: "A+Tag@Example.test", notify: [.delay, .failure], originalRecipient: "rfc822;A+2BTag@Example.test")
        let envelope = Envelope(
            mailFrom: "sender@example.test",
            parameters: MailParameters(size: 99, body: .eightBitMIME, smtpUTF8: false, ret: .full, envelopeID: "QQ+2B1"),
            recipients: [EnvelopeRecipient(address: "other@example.test"), recipient],
            client: ClientInfo(name: "mx.example.test", address: "192.0.2.1", port: "25", proto: "ESMTP", helo: "mx"))
        let metadata = FilterRequestMetadata(
            requestID: "req-1", queueID: queueID, received: Self.received, deadline: Self.received.addingTimeInterval(60),
            envelope: envelope, recipient: recipient, owner: "a@example.test", size: 4321, truncated: true)

        #expect(metadata.version == 1)
        #expect(metadata.id == "req-1")
        #expect(metadata.queueId == queueID.rawValue)
        #expect(metadata.received == Self.received)
        #expect(metadata.deadline == Self.received.addingTimeInterval(60))
        #expect(metadata.envelope.mailFrom == "sender@example.test")
        #expect(metadata.envelope.recipient == "A+Tag@Example.test")
        #expect(metadata.envelope.owner == "a@example.test")
        #expect(metadata.envelope.orcpt == "rfc822;A+2BTag@Example.test")
        #expect(
            metadata.envelope.parameters
                == .init(body: "8BITMIME", smtputf8: false, ret: "FULL", envid: "QQ+1", notify: ["FAILURE", "DELAY"]))
        #expect(metadata.client == .init(name: "mx.example.test", address: "192.0.2.1", helo: "mx", protocol: "ESMTP"))
        #expect(metadata.size == 4321)
        #expect(metadata.truncated)
    }

    @Test(arguments: [
        (DSNNotify?.none, [String]?.none),
        (DSNNotify.never, ["NEVER"]),
        ([.success, .failure, .delay], ["SUCCESS", "FAILURE", "DELAY"]),
    ] as [(DSNNotify?, [String]?)])
    func notifyBecomesKeywords(_ notify: DSNNotify?, _ keywords: [String]?) {
        let recipient = EnvelopeRecipient(address: "b@example.test", notify: notify)
        let metadata = FilterRequestMetadata(
            requestID: "r", queueID: QueueID.generate(at: Self.received), received: Self.received,
            deadline: Self.received, envelope: Envelope(mailFrom: "", recipients: [recipient]), recipient: recipient,
            owner: "b@example.test", size: 0, truncated: false)
        #expect(metadata.envelope.parameters.notify == keywords)
        #expect(metadata.envelope.parameters.envid == nil)
    }
}
