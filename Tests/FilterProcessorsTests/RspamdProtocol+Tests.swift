import Foundation
import Testing

@testable import FilterProcessors

/// Answers recorded from Debian 12's rspamd 3.4 (network modules off), shortened.
enum RspamdFixtures {
    static let gtube = #"""
        {"is_skipped":true,"score":15.0,"required_score":15.0,"action":"reject","symbols":{"GTUBE":{"name":"GTUBE","score":0.0,"metric_score":0.0}},"messages":{"smtp_message":"Gtube pattern"},"message-id":"1@example.org","time_real":0.176163}
        """#
    static let ham = #"""
        {"is_skipped":false,"score":1.0,"required_score":15.0,"action":"no action","symbols":{"RDNS_NONE":{"name":"RDNS_NONE","score":1.0,"metric_score":1.0,"description":"Cannot resolve reverse DNS for sender's IP"},"MIME_GOOD":{"name":"MIME_GOOD","score":-0.100000,"metric_score":-0.100000,"description":"Known content-type","options":["text/plain"]},"ONCE_RECEIVED":{"name":"ONCE_RECEIVED","score":0.100000,"metric_score":0.100000}},"messages":{},"message-id":"2@example.org","time_real":0.008241,"milter":{"remove_headers":{"X-Spam":0}}}
        """#

    /// An answer with `action` and `score`.
    static func answer(action: String, score: Double = 7) -> String {
        #"{"is_skipped":false,"score":\#(score),"required_score":15.0,"action":"\#(action)","symbols":{"SOME_RULE":{"score":\#(score)}}}"#
    }
}

@Suite struct RspamdProtocolTests {
    @Test func theEnvelopeBecomesHeaders() {
        let envelope = RspamdEnvelope(
            from: "a@example.org", recipients: ["b@example.com", "c@example.com"], ip: "192.0.2.7", helo: "mail.example.org",
            hostname: nil, queueID: "4Xyz", user: "")
        let headers = RspamdProtocol.headers(envelope, password: "secret")
        #expect(headers.map(\.name) == ["From", "Rcpt", "Rcpt", "IP", "Helo", "Queue-Id", "Password"])
        #expect(headers.map(\.value) == ["a@example.org", "b@example.com", "c@example.com", "192.0.2.7", "mail.example.org", "4Xyz", "secret"])
    }

    @Test func theNullSenderIsSentEmpty() {
        let headers = RspamdProtocol.headers(RspamdEnvelope(from: "", recipients: ["b@example.com"]), password: nil)
        #expect(headers.map(\.name) == ["From", "Rcpt"])
        #expect(headers.first?.value == "")
    }

    @Test func gtubeIsRejected() throws {
        let result = try RspamdProtocol.parseResult(Data(RspamdFixtures.gtube.utf8))
        #expect(result == RspamdResult(action: .reject, score: 15, requiredScore: 15, symbols: ["GTUBE"], smtpMessage: "Gtube pattern"))
    }

    @Test func hamHasNoAction() throws {
        let result = try RspamdProtocol.parseResult(Data(RspamdFixtures.ham.utf8))
        #expect(result.action == .noAction)
        #expect(result.score == 1)
        #expect(result.symbols == ["MIME_GOOD", "ONCE_RECEIVED", "RDNS_NONE"])
        #expect(result.smtpMessage == nil)
    }

    @Test func anErrorAnswerIsTheDaemons() {
        #expect { try RspamdProtocol.parseResult(Data(#"{"error":"cannot parse input"}"#.utf8)) } throws: { error in
            (error as? DaemonError)?.code == .daemonFailed && (error as? DaemonError)?.message == "rspamd could not check the message: cannot parse input"
        }
    }

    @Test(arguments: ["", "<html>", #"{"action":"reject"}"#, #"{"action":7,"score":1,"required_score":2}"#, "[]"])
    func malformedAnswersAreInvalid(answer: String) {
        #expect { try RspamdProtocol.parseResult(Data(answer.utf8)) } throws: { error in
            (error as? DaemonError)?.code == .invalidResponse
        }
    }
}
