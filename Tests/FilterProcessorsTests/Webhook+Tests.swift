import FilterCore
import Foundation
import Testing

@testable import FilterProcessors

@Suite struct WebhookTests {
    /// A webhook to `urls` with quick retries.
    func webhook(
        _ urls: [String], body: String? = nil, useResponse: Bool? = nil, secret: String? = nil, requestTimeout: Double? = nil,
        retries: Int? = nil
    ) throws -> Webhook {
        try Webhook(options: .init(
            urls: urls, body: body, useResponse: useResponse,
            delivery: .init(requestTimeout: requestTimeout, retries: retries, retryDelay: 0.05, secret: secret)))
    }

    static let message = "Subject: Quarterly\n report\nFrom: Bob <bob@example.org>\n\nHello\n"

    @Test func theSummaryIsSignedAndCarriesTheIdempotencyKey() async throws {
        try await WebhookReceiver.with(secret: "s3cret") { receiver in
            let hook = try webhook([receiver.url("/hook")], secret: "s3cret")
            var verdict = Verdict()
            verdict.addScore(2.5)
            verdict.addTag("checked")
            let outcome = try await hook.process(.fixture(id: "Q9.1", message: Self.message), verdict: verdict)
            #expect(outcome == .continue(verdict))
            let received = try await receiver.received()
            try #require(received.count == 1)
            #expect(received[0].signatureValid)
            #expect(received[0].idempotencyKey == "Q9.1")
            #expect(received[0].contentType == "application/json")
            let summary = try JSONSerialization.jsonObject(with: Data(received[0].bytes)) as? [String: Any]
            #expect(summary?["id"] as? String == "Q9.1")
            #expect(summary?["queueId"] as? String == "Q1")
            #expect(summary?["subject"] as? String == "Quarterly report")
            #expect(summary?["from"] as? String == "Bob <bob@example.org>")
            #expect(summary?["received"] as? String == "2023-11-14T22:13:20.000Z")
            let envelope = summary?["envelope"] as? [String: Any]
            #expect(envelope?["mailFrom"] as? String == "sender@example.org")
            #expect(envelope?["recipient"] as? String == "alice@example.com")
            let verdictSent = summary?["verdict"] as? [String: Any]
            #expect(verdictSent?["score"] as? Double == 2.5)
            #expect(verdictSent?["tags"] as? [String] == ["checked"])
        }
    }

    @Test func aWrongSecretDoesNotVerify() async throws {
        try await WebhookReceiver.with(secret: "s3cret") { receiver in
            _ = try await webhook([receiver.url("/hook")], secret: "other").process(.fixture(), verdict: Verdict())
            let received = try await receiver.received()
            #expect(received.map(\.signatureValid) == [false])
            #expect(received.first?.signature?.hasPrefix("sha256=") == true)
        }
    }

    @Test func withoutASecretThereIsNoSignature() async throws {
        try await WebhookReceiver.with { receiver in
            _ = try await webhook([receiver.url("/hook")]).process(.fixture(), verdict: Verdict())
            #expect(try await receiver.received().map(\.signature) == [nil])
        }
    }

    @Test func theRawMessageIsPostedAsIs() async throws {
        try await WebhookReceiver.with(secret: "k") { receiver in
            let request = ProcessorRequest.fixture(message: Self.message)
            _ = try await webhook([receiver.url("/raw")], body: "raw", secret: "k").process(request, verdict: Verdict())
            let received = try await receiver.received()
            #expect(received.map(\.bytes) == [request.rawMessage])
            #expect(received.map(\.contentType) == ["message/rfc822"])
            #expect(received.map(\.signatureValid) == [true])
        }
    }

    @Test func everyURLReceivesTheMessage() async throws {
        try await WebhookReceiver.with { receiver in
            _ = try await webhook([receiver.url("/a"), receiver.url("/b")]).process(.fixture(), verdict: Verdict())
            #expect(try await receiver.received().map(\.path).sorted() == ["/a", "/b"])
        }
    }

    @Test(arguments: [500, 503, 429])
    func aTransientStatusIsRetriedWithTheSameKey(status: Int) async throws {
        try await WebhookReceiver.with(secret: "k") { receiver in
            let hook = try webhook([receiver.url("/hook?fail=\(status)x1")], secret: "k", retries: 2)
            _ = try await hook.process(.fixture(id: "Q2.0"), verdict: Verdict())
            let received = try await receiver.received()
            #expect(received.map(\.attempt) == [1, 2])
            #expect(received.map(\.idempotencyKey) == ["Q2.0", "Q2.0"])
            #expect(received.map(\.signatureValid) == [true, true])
        }
    }

    @Test func retriesEndWithTheLastError() async throws {
        try await WebhookReceiver.with { receiver in
            let hook = try webhook([receiver.url("/hook?fail=503x9")], retries: 2)
            await #expect(performing: { try await hook.process(.fixture(), verdict: Verdict()) }, throws: { error in
                let error = try #require(error as? WebhookError)
                return error.code == .httpStatus && error.status == 503 && error.message.hasSuffix("(attempt 3 of 3)")
            })
            #expect(try await receiver.received().count == 3)
        }
    }

    @Test(arguments: [400, 404, 422])
    func aClientErrorIsNotRetried(status: Int) async throws {
        try await WebhookReceiver.with { receiver in
            let hook = try webhook([receiver.url("/hook?fail=\(status)x1")], retries: 2)
            await #expect(performing: { try await hook.process(.fixture(), verdict: Verdict()) }, throws: { error in
                (error as? WebhookError)?.status == status && (error as? WebhookError)?.message.contains("attempt") == false
            })
            #expect(try await receiver.received().count == 1)
        }
    }

    @Test func aRefusedConnectionIsRetriedThenFails() async throws {
        // Port 9 (discard) has no listener on the test machine's loopback.
        let hook = try webhook(["http://127.0.0.1:9/hook"], retries: 1)
        await #expect(performing: { try await hook.process(.fixture(), verdict: Verdict()) }, throws: { error in
            let error = try #require(error as? WebhookError)
            return error.code == .connectionFailed && error.message.hasSuffix("(attempt 2 of 2)")
        })
    }

    @Test func aSlowReceiverTimesOutAndTheStepsOnErrorApplies() async throws {
        try await WebhookReceiver.with { receiver in
            let hook = try webhook([receiver.url("/hook?delay=30")], requestTimeout: 0.5, retries: 0)
            let pipeline = Pipeline(steps: [PipelineStep(hook, onError: .decide(.pending))])
            let result = await pipeline.run(.fixture())
            #expect(result.decision.action == .pending)
            #expect(result.trace.map(\.outcome) == ["error"])
            #expect(result.failures.count == 1)
            #expect(result.failures.first?.contains("no answer within 0.5 s") == true)
        }
    }

    @Test func theStepTimeoutCancelsTheTransfer() async throws {
        try await WebhookReceiver.with { receiver in
            let hook = try webhook([receiver.url("/hook?delay=30")], requestTimeout: 60, retries: 0)
            let pipeline = Pipeline(steps: [PipelineStep(hook, timeout: .milliseconds(500), onError: .decide(.quarantine))])
            let result = await pipeline.run(.fixture())
            #expect(result.decision.action == .quarantine)
            #expect(result.trace.map(\.outcome) == ["timeout"])
        }
    }

    @Test func cancellingTheTaskCancelsTheTransfer() async throws {
        try await WebhookReceiver.with { receiver in
            let hook = try webhook([receiver.url("/hook?delay=30")], requestTimeout: 60, retries: 0)
            let task = Task { try await hook.process(.fixture(), verdict: Verdict()) }
            while try await receiver.received().isEmpty {
                try await Task.sleep(for: .milliseconds(20))
            }
            task.cancel()
            // A transfer that ignored cancellation would end after 30 s with the receiver's 200.
            await #expect(performing: { try await task.value }, throws: { ($0 as? WebhookError)?.code == .cancelled })
        }
    }

    @Test func theAnswerDecides() async throws {
        try await WebhookReceiver.with { receiver in
            let answer = #"{"action": "spam", "reason": "looks like spam", "score": 6.5, "tags": ["hooked"]}"#
            let hook = try webhook([receiver.url("/hook", answering: answer)], useResponse: true)
            var verdict = Verdict()
            verdict.addScore(1)
            let outcome = try await hook.process(.fixture(), verdict: verdict)
            #expect(outcome.decision == Decision(.spam, reason: "looks like spam"))
            #expect(outcome.verdict.score == 7.5)
            #expect(outcome.verdict.tags == ["hooked"])
        }
    }

    @Test func anAnswerWithoutAnActionOnlyAddsToTheVerdict() async throws {
        try await WebhookReceiver.with { receiver in
            let hook = try webhook(
                [receiver.url("/a", answering: #"{"score": 2, "tags": ["a"]}"#), receiver.url("/b", answering: #"{"action": "continue", "tags": ["b"]}"#)],
                useResponse: true)
            let outcome = try await hook.process(.fixture(), verdict: Verdict())
            #expect(outcome.decision == nil)
            #expect(outcome.verdict == Verdict(score: 2, tags: ["a", "b"]))
        }
    }

    @Test func theFirstURLWithAnActionDecides() async throws {
        try await WebhookReceiver.with { receiver in
            let hook = try webhook(
                [receiver.url("/a", answering: #"{"tags": ["a"]}"#), receiver.url("/b", answering: #"{"action": "quarantine"}"#),
                 receiver.url("/c", answering: #"{"action": "deny"}"#)],
                useResponse: true)
            let outcome = try await hook.process(.fixture(), verdict: Verdict())
            #expect(outcome.decision?.action == .quarantine)
            #expect(outcome.decision?.reason == "decided by webhook (127.0.0.1)")
        }
    }

    @Test func aForwardAnswerCarriesItsAddresses() async throws {
        try await WebhookReceiver.with { receiver in
            let answer = #"{"action": "forward", "forward": ["archive@example.net"]}"#
            let outcome = try await webhook([receiver.url("/hook", answering: answer)], useResponse: true).process(.fixture(), verdict: Verdict())
            #expect(outcome.decision?.forward == ["archive@example.net"])
        }
    }

    @Test(arguments: [
        "not json", "[]", #"{"action": "explode"}"#, #"{"score": "high"}"#, #"{"action": "forward"}"#,
        #"{"action": "forward", "forward": ["nobody"]}"#, "",
    ])
    func anInvalidAnswerIsAnError(answer: String) async throws {
        try await WebhookReceiver.with { receiver in
            let hook = try webhook([receiver.url("/hook", answering: answer)], useResponse: true)
            await #expect(performing: { try await hook.process(.fixture(), verdict: Verdict()) }, throws: { error in
                (error as? WebhookError)?.code == .invalidResponse
            })
        }
    }

    @Test func theAnswerIsIgnoredUnlessAskedFor() async throws {
        try await WebhookReceiver.with { receiver in
            let outcome = try await webhook([receiver.url("/hook", answering: "not json")]).process(.fixture(), verdict: Verdict())
            #expect(outcome == .continue(Verdict()))
        }
    }

    @Test func theSecretCanComeFromAFile() async throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("webhook-secret-\(UUID().uuidString)")
        try Data("from-file\n".utf8).write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        try await WebhookReceiver.with(secret: "from-file") { receiver in
            let hook = try Webhook(options: .init(urls: [receiver.url("/hook")], delivery: .init(secretFile: file.path)))
            _ = try await hook.process(.fixture(), verdict: Verdict())
            #expect(try await receiver.received().map(\.signatureValid) == [true])
        }
    }

    @Test(arguments: [
        (#"{"type": "webhook", "urls": []}"#, "pipeline entry 1: webhook.urls: give at least one URL"),
        (#"{"type": "webhook", "urls": ["ftp://x.example/"]}"#, "pipeline entry 1: webhook.urls: \"ftp://x.example/\" is not an http or https URL with a host"),
        (#"{"type": "webhook", "urls": ["http://x.example/"], "body": "full"}"#, "pipeline entry 1: webhook.body: \"full\" is not summary or raw"),
        (#"{"type": "webhook", "urls": ["http://x.example/"], "secret": "a", "secret_file": "/b"}"#,
         "pipeline entry 1: webhook: give `secret` or `secret_file`, not both"),
        (#"{"type": "webhook", "urls": ["http://x.example/"], "secret_file": "/nonexistent/secret"}"#,
         "pipeline entry 1: webhook.secret_file: cannot read /nonexistent/secret"),
        (#"{"type": "webhook", "urls": ["http://x.example/"], "retries": 11}"#, "pipeline entry 1: webhook.retries: must be between 0 and 10"),
        (#"{"type": "webhook", "urls": ["http://x.example/"], "request_timeout": 0}"#,
         "pipeline entry 1: webhook.request_timeout: must be a positive number of seconds"),
        (#"{"type": "webhook", "url": "http://x.example/"}"#,
         "pipeline entry 1: webhook: unknown option url; known: body, name, on_error, request_timeout, retries, retry_delay, secret, secret_file, timeout, type, urls, use_response"),
    ])
    func badOptionsAreNamed(json: String, expected: String) {
        #expect(performing: { try JSONDecoder().decode(PipelineConfiguration.self, from: Data("[\(json)]".utf8)) }, throws: { error in
            (error as? ProcessorConfigurationError)?.description == expected
        })
    }

    @Test func aPipelineEntryBuildsAWebhook() throws {
        let json = #"[{"type": "webhook", "urls": ["https://hooks.example/in"], "body": "raw", "use_response": true, "retries": 0, "timeout": 5}]"#
        let configuration = try JSONDecoder().decode(PipelineConfiguration.self, from: Data(json.utf8))
        #expect(configuration.steps.map(\.processor.name) == ["webhook"])
        #expect(configuration.steps.map(\.timeout) == [.seconds(5)])
    }
}
