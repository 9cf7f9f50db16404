import FilterCore
import Foundation
import Testing

@testable import FilterProcessors

@Suite struct NotifyTests {
    func texts(_ receiver: WebhookReceiver, field: String = "text") async throws -> [String] {
        try await receiver.received().compactMap { received in
            (try? JSONSerialization.jsonObject(with: Data(received.bytes)) as? [String: String])?[field]
        }
    }

    @Test func theTemplateIsFilledIn() async throws {
        try await WebhookReceiver.with { receiver in
            let notify = try Notify(options: .init(
                url: receiver.url("/chat"), template: "{{action}}: {{sender}} -> {{recipient}} \"{{subject}}\" score {{score}} [{{tags}}] {{id}}"))
            let verdict = Verdict(score: 7, tags: ["spam", "bulk"])
            let outcome = try await notify.process(.fixture(id: "Q5.0", message: "Subject: Win\n\nx\n"), verdict: verdict)
            #expect(outcome == .continue(verdict))
            #expect(try await texts(receiver) == ["continue: sender@example.org -> alice@example.com \"Win\" score 7 [spam, bulk] Q5.0"])
            #expect(try await receiver.received().map(\.idempotencyKey) == ["Q5.0"])
        }
    }

    @Test func theDefaultTemplateAndTheNullSender() async throws {
        try await WebhookReceiver.with { receiver in
            _ = try await Notify(options: .init(url: receiver.url("/chat"))).process(.fixture(from: ""), verdict: Verdict())
            #expect(try await texts(receiver) == ["Mail for alice@example.com from &lt;&gt;: test"], "values escaped for Slack by default")
        }
    }

    /// Text from the mail cannot mention the channel or forge a link; the template's own
    /// markup stays; `escape: none` sends values as they are.
    @Test func valuesFromTheMailAreEscapedForSlack() async throws {
        try await WebhookReceiver.with { receiver in
            let hostile = "Subject: <!channel> <https://evil.example|your bank> & more\n\nx\n"
            let template = "<https://mail.example/q/{{id}}|{{subject}}>"
            _ = try await Notify(options: .init(url: receiver.url("/chat"), template: template)).process(.fixture(id: "Q7.0", message: hostile), verdict: Verdict())
            _ = try await Notify(options: .init(url: receiver.url("/chat"), template: "{{subject}}", escape: "none"))
                .process(.fixture(message: hostile), verdict: Verdict())
            #expect(try await texts(receiver) == [
                "<https://mail.example/q/Q7.0|&lt;!channel&gt; &lt;https://evil.example|your bank&gt; &amp; more>",
                "<!channel> <https://evil.example|your bank> & more",
            ])
            #expect(throws: ProcessorConfigurationError.self) { try Notify(options: .init(url: receiver.url("/chat"), escape: "html")) }
        }
    }

    @Test func theFieldNameIsConfigurable() async throws {
        try await WebhookReceiver.with { receiver in
            _ = try await Notify(options: .init(url: receiver.url("/chat"), template: "hi", field: "message")).process(.fixture(), verdict: Verdict())
            #expect(try await texts(receiver, field: "message") == ["hi"])
        }
    }

    @Test func longMessagesAreCut() async throws {
        try await WebhookReceiver.with { receiver in
            let notify = try Notify(options: .init(url: receiver.url("/chat"), template: String(repeating: "a", count: 50), maxLength: 10))
            _ = try await notify.process(.fixture(), verdict: Verdict())
            #expect(try await texts(receiver) == ["aaaaaaaaa…"])
        }
    }

    @Test(arguments: [
        (Notify.Condition(tags: ["spam"]), Verdict(tags: ["spam"]), "a@example.org", true),
        (Notify.Condition(tags: ["spam"]), Verdict(tags: ["ham"]), "a@example.org", false),
        (Notify.Condition(scoreAtLeast: 5), Verdict(score: 5), "a@example.org", true),
        (Notify.Condition(scoreAtLeast: 5), Verdict(score: 4.9), "a@example.org", false),
        (Notify.Condition(scoreAtLeast: 5), Verdict(), "a@example.org", false),
        (Notify.Condition(senders: ["@vip.example"]), Verdict(), "boss@vip.example", true),
        (Notify.Condition(senders: ["@vip.example"]), Verdict(), "a@example.org", false),
        (Notify.Condition(tags: ["spam"], senders: ["@vip.example"]), Verdict(tags: ["spam"]), "a@example.org", false),
    ])
    func onlyMatchingMailIsNotified(condition: Notify.Condition, verdict: Verdict, sender: String, notified: Bool) async throws {
        try await WebhookReceiver.with { receiver in
            let notify = try Notify(options: .init(url: receiver.url("/chat"), when: condition))
            _ = try await notify.process(.fixture(from: sender), verdict: verdict)
            #expect(try await receiver.received().count == (notified ? 1 : 0))
        }
    }

    @Test func itCanDecideAfterNotifying() async throws {
        try await WebhookReceiver.with { receiver in
            let notify = try Notify(options: .init(url: receiver.url("/chat"), template: "{{action}}", action: "quarantine"))
            let outcome = try await notify.process(.fixture(), verdict: Verdict())
            #expect(outcome.decision?.action == .quarantine)
            #expect(try await texts(receiver) == ["quarantine"])
        }
    }

    @Test func aFailedPostIsAnError() async throws {
        try await WebhookReceiver.with { receiver in
            let notify = try Notify(options: .init(url: receiver.url("/chat?fail=404x1"), delivery: .init(retries: 0)))
            await #expect(throws: WebhookError.self) { try await notify.process(.fixture(), verdict: Verdict()) }
        }
    }

    @Test(arguments: [
        (#"{"type": "notify", "url": "http://chat.example/", "template": "{{nope}}"}"#,
         "pipeline entry 1: notify.template: unknown variable {{nope}}; known: action, client_address, client_name, from, helo, id, queue_id, recipient, score, sender, size, subject, tags"),
        (#"{"type": "notify", "url": "http://chat.example/", "template": "{{sender"}"#, "pipeline entry 1: notify.template: \"{{\" is not closed by \"}}\""),
        (#"{"type": "notify", "url": "http://chat.example/", "when": {"tag": ["x"]}}"#,
         "pipeline entry 1: notify: `when`: unknown condition tag; known: score_at_least, senders, tags"),
        (#"{"type": "notify", "url": "http://chat.example/", "action": "shout"}"#,
         "pipeline entry 1: notify.action: \"shout\" is not an action; use one of pass, deny, spam, virus, forward, quarantine, pending"),
        (#"{"type": "notify", "url": "mailto:x@example.org"}"#, "pipeline entry 1: notify.url: \"mailto:x@example.org\" is not an http or https URL with a host"),
    ])
    func badOptionsAreNamed(json: String, expected: String) {
        #expect(performing: { try JSONDecoder().decode(PipelineConfiguration.self, from: Data("[\(json)]".utf8)) }, throws: { error in
            (error as? ProcessorConfigurationError)?.description == expected
        })
    }
}
