import FilterCore
import Foundation
import Testing

@testable import FilterProcessors

@Suite struct RspamdTests {
    /// A fake rspamd worker: reads one HTTP request (headers and a `Content-Length` body) and
    /// answers `status` with `body`.
    @discardableResult
    func withRspamd<T: Sendable>(status: String = "200 OK", body: String, _ run: (FakeDaemon) async throws -> T) async throws -> T {
        try await FakeDaemon.withRunning(
            isComplete: HTTPRequest.isComplete,
            answer: { _ in
                .bytes(Array("HTTP/1.1 \(status)\r\nContent-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n\(body)".utf8))
            }, run)
    }

    func processor(_ rspamd: FakeDaemon, _ options: Rspamd.Options = .init()) throws -> Rspamd {
        var options = options
        options.url = "http://127.0.0.1:\(rspamd.port)"
        return try Rspamd(options: options)
    }

    @Test func gtubeIsDeniedAndTheEnvelopeIsSent() async throws {
        try await withRspamd(body: RspamdFixtures.gtube) { rspamd in
            let request = ProcessorRequest.fixture(from: "a@example.org", to: "b@example.com", message: "Subject: x\n\nGTUBE\n")
            let outcome = try await processor(rspamd).process(request, verdict: Verdict())
            #expect(outcome.decision == Decision(.deny, reason: "rspamd: reject (score 15.0 / 15.0)"))
            #expect(outcome.verdict.score == 15)
            #expect(outcome.verdict.tags == ["GTUBE"])
            let sent = try #require(rspamd.received.first.map(HTTPRequest.init))
            #expect(sent.requestLine == "POST /checkv2 HTTP/1.1")
            #expect(sent.header("From") == "a@example.org")
            #expect(sent.header("Rcpt") == "b@example.com")
            #expect(sent.header("IP") == "192.0.2.7")
            #expect(sent.header("Helo") == "mail.example.org")
            #expect(sent.header("Hostname") == "mail.example.org")
            #expect(sent.header("Queue-Id") == "Q1")
            #expect(sent.header("Password") == nil)
            #expect(sent.body == Array("Subject: x\r\n\r\nGTUBE\r\n".utf8))
        }
    }

    @Test(arguments: [
        ("add header", Decision(.spam, reason: "rspamd: add header (score 7.0 / 15.0)")),
        ("rewrite subject", Decision(.spam, reason: "rspamd: rewrite subject (score 7.0 / 15.0)")),
        ("greylist", Decision(.pending, reason: "rspamd: greylist (score 7.0 / 15.0)", retryAfter: 300)),
        ("soft reject", Decision(.pending, reason: "rspamd: soft reject (score 7.0 / 15.0)", retryAfter: 300)),
    ])
    func actionsMapToOurs(action: String, decision: Decision) async throws {
        try await withRspamd(body: RspamdFixtures.answer(action: action)) { rspamd in
            let outcome = try await processor(rspamd).process(.fixture(), verdict: Verdict())
            #expect(outcome.decision == decision)
        }
    }

    @Test(arguments: ["no action", "custom action"])
    func noActionAndUnknownActionsContinueWithTheScore(action: String) async throws {
        try await withRspamd(body: RspamdFixtures.answer(action: action, score: 2.5)) { rspamd in
            let outcome = try await processor(rspamd).process(.fixture(), verdict: Verdict(score: 1))
            #expect(outcome.decision == nil)
            #expect(outcome.verdict.score == 3.5)
            #expect(outcome.verdict.tags == ["SOME_RULE"])
        }
    }

    @Test func theMapAndRetryAreConfigurable() async throws {
        let options = Rspamd.Options(password: "pw", user: "bob", actions: ["Reject": "quarantine", "add header": "continue"], retryAfter: 60)
        try await withRspamd(body: RspamdFixtures.gtube) { rspamd in
            #expect(try await processor(rspamd, options).process(.fixture(), verdict: Verdict()).decision?.action == .quarantine)
            let sent = try #require(rspamd.received.first.map(HTTPRequest.init))
            #expect(sent.header("Password") == "pw")
            #expect(sent.header("User") == "bob")
        }
        try await withRspamd(body: RspamdFixtures.answer(action: "add header")) { rspamd in
            let outcome = try await processor(rspamd, options).process(.fixture(), verdict: Verdict())
            #expect(outcome.decision == nil)
        }
        try await withRspamd(body: RspamdFixtures.answer(action: "greylist")) { rspamd in
            let outcome = try await processor(rspamd, options).process(.fixture(), verdict: Verdict())
            #expect(outcome.decision?.retryAfter == 60)
        }
    }

    @Test func unknownClientFieldsAreNotSent() async throws {
        try await withRspamd(body: RspamdFixtures.ham) { rspamd in
            let request = ProcessorRequest.fixture(clientAddress: "[UNAVAILABLE]", helo: nil)
            _ = try await processor(rspamd).process(request, verdict: Verdict())
            let sent = try #require(rspamd.received.first.map(HTTPRequest.init))
            #expect(sent.header("IP") == nil)
            #expect(sent.header("Helo") == nil)
        }
    }

    @Test func anHTTPErrorIsTheDaemons() async throws {
        try await withRspamd(status: "500 Internal Server Error", body: "oops") { rspamd in
            await #expect { try await processor(rspamd).process(.fixture(), verdict: Verdict()) } throws: { error in
                (error as? DaemonError)?.code == .daemonFailed
            }
        }
        try await withRspamd(status: "400 Bad Request", body: #"{"error":"bad input"}"#) { rspamd in
            await #expect { try await processor(rspamd).process(.fixture(), verdict: Verdict()) } throws: { error in
                (error as? DaemonError)?.message == "rspamd could not check the message: bad input"
            }
        }
    }

    @Test func aMalformedAnswerIsAnError() async throws {
        try await withRspamd(body: "{\"action\":") { rspamd in
            await #expect { try await processor(rspamd).process(.fixture(), verdict: Verdict()) } throws: { error in
                (error as? DaemonError)?.code == .invalidResponse
            }
        }
    }

    @Test func aDaemonThatIsDownFailsTheStep() async throws {
        let address = try await FakeDaemon.closedAddress()
        let rspamd = try Rspamd(options: .init(url: "http://\(address)"))
        let result = await Pipeline(steps: [PipelineStep(rspamd, onError: .decide(.pending))]).run(.fixture())
        #expect(result.decision.action == .pending)
        #expect(result.trace.map(\.outcome) == ["error"])
        #expect(result.failures.first?.contains("cannot be reached") == true)
    }

    @Test func aSlowDaemonRunsIntoTheStepTimeout() async throws {
        try await FakeDaemon.withRunning(isComplete: HTTPRequest.isComplete, answer: { _ in .silence }) { rspamd in
            let result = await Pipeline(steps: [PipelineStep(try processor(rspamd), timeout: .milliseconds(300))]).run(.fixture())
            #expect(result.trace.map(\.outcome) == ["timeout"])
            #expect(result.decision.action == .pass)
        }
    }

    @Test(arguments: [
        Rspamd.Options(url: "ftp://host"), .init(url: "not a url"), .init(actions: ["reject": "drop"]), .init(retryAfter: 0),
        .init(connectTimeout: 0),
    ])
    func invalidOptionsAreRefused(options: Rspamd.Options) {
        #expect(throws: ProcessorConfigurationError.self) { try Rspamd(options: options) }
    }
}

/// An HTTP/1.1 request as the fake rspamd received it.
struct HTTPRequest {
    var requestLine: String
    var headers: [(name: String, value: String)]
    var body: [UInt8]

    init(_ bytes: [UInt8]) {
        let end = bytes.firstRange(of: Array("\r\n\r\n".utf8)) ?? bytes.endIndex..<bytes.endIndex
        let lines = String(decoding: bytes[..<end.lowerBound], as: UTF8.self).components(separatedBy: "\r\n")
        requestLine = lines.first ?? ""
        headers = lines.dropFirst().compactMap { line in
            line.firstIndex(of: ":").map { (String(line[..<$0]), line[line.index(after: $0)...].trimmingCharacters(in: .whitespaces)) }
        }
        body = Array(bytes[end.upperBound...])
    }

    func header(_ name: String) -> String? {
        headers.first { $0.name.lowercased() == name.lowercased() }?.value
    }

    /// Whether `bytes` hold the headers and the whole `Content-Length` body.
    @Sendable static func isComplete(_ bytes: [UInt8]) -> Bool {
        guard bytes.firstRange(of: Array("\r\n\r\n".utf8)) != nil else { return false }
        let request = HTTPRequest(bytes)
        return request.body.count >= Int(request.header("Content-Length") ?? "0") ?? 0
    }
}
