import FilterCore
import Testing

@testable import FilterProcessors

@Suite struct ForwardTests {
    @Test func itRedirectsByDefault() async throws {
        let forward = try Forward(options: .init(to: ["archive@example.net", "boss@example.com"]))
        let outcome = try await forward.process(.fixture(), verdict: Verdict())
        #expect(outcome.decision == Decision(.forward, reason: "forward (redirect) by forward", forward: ["archive@example.net", "boss@example.com"]))
        #expect(outcome.verdict.tags == ["forward-redirect"])
    }

    @Test func theCopyModeIsRecorded() async throws {
        let forward = try Forward(name: "cc", options: .init(to: ["archive@example.net"], mode: "copy"))
        let outcome = try await forward.process(.fixture(), verdict: Verdict(tags: ["x"]))
        #expect(outcome.decision?.reason == "forward (copy) by cc")
        #expect(outcome.verdict.tags == ["x", "forward-copy"])
    }

    @Test func onlyMatchingSendersAreForwarded() async throws {
        let forward = try Forward(options: .init(to: ["archive@example.net"], senders: ["@billing.example"]))
        #expect(try await forward.process(.fixture(from: "invoice@billing.example"), verdict: Verdict()).decision?.action == .forward)
        #expect(try await forward.process(.fixture(from: "x@other.example"), verdict: Verdict()) == .continue(Verdict()))
    }

    @Test(arguments: [
        (Forward.Options(to: []), "forward.to: give at least one address"),
        (Forward.Options(to: ["not-an-address"]), "forward.to: \"not-an-address\" is not a valid address (local-part@domain)"),
        (Forward.Options(to: ["a@example.net"], mode: "bcc"), "forward.mode: \"bcc\" is not redirect or copy"),
        (Forward.Options(to: ["a@example.net"], senders: []), "forward.senders: give at least one sender, or leave the option out for all mail"),
    ])
    func badOptionsAreNamed(options: Forward.Options, expected: String) {
        #expect(performing: { try Forward(options: options) }, throws: { ($0 as? ProcessorConfigurationError)?.description == expected })
    }
}

@Suite struct MailboxSyntaxTests {
    @Test(arguments: [
        "a@example.net", "first.last@sub.example.net", "user+tag@example.net", "\"john doe\"@example.net", "\"a\\\"b\"@example.net",
        "x@[192.0.2.1]", "x@[IPv6:2001:db8::1]", "o'brien@example.ie", "jörg@bücher.example", "postmaster@localhost",
        String(repeating: "l", count: 64) + "@example.net",
    ])
    func validMailboxes(address: String) {
        #expect(MailboxSyntax.isValid(address))
    }

    @Test(arguments: [
        "", "plain", "@example.net", "a@", "a@@example.net", "a b@example.net", ".a@example.net", "a.@example.net", "a..b@example.net",
        "a@-example.net", "a@example-.net", "a@exa_mple.net", "a@example..net", "a@[300.0.0.1]", "a@[IPv6:zz::1]", "\"unclosed@example.net",
        "a@example.net>", "<a@example.net>", String(repeating: "l", count: 65) + "@example.net",
    ])
    func invalidMailboxes(address: String) {
        #expect(!MailboxSyntax.isValid(address))
    }
}
