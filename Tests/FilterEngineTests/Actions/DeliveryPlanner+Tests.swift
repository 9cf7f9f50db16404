import FilterCore
import Foundation
import Testing

@testable import FilterEngine

@Suite struct DeliveryPlannerTests {
    let now = Date(timeIntervalSince1970: 1_800_000_000)

    func entry(_ recipient: String = "alice+news@example.com", decision: RecipientDecision?, heldSince: Date? = nil) -> SpoolEntry {
        let envelope = Envelope(mailFrom: "s@example.org", recipients: [EnvelopeRecipient(address: recipient, notify: [.failure])])
        return SpoolEntry(
            queueID: QueueID(rawValue: "Q1")!, envelope: envelope, receivedAt: now, messageSize: 10,
            recipients: [RecipientDelivery(state: .pending, updatedAt: now, requestID: "Q1.0", decision: decision, heldSince: heldSince)])
    }

    func plan(
        _ reply: FilterReply, source: RecipientDecision.Source = .client, configure: (inout FilteringConfiguration) -> Void = { _ in }
    ) -> DeliveryPlanner.Plan {
        var filtering = FilteringConfiguration(serverID: "mx")
        configure(&filtering)
        let decided = entry(decision: RecipientDecision(action: reply.action, source: source, reply: reply))
        return DeliveryPlanner(filtering: filtering).plan(decided, recipientAt: 0, now: now)
    }

    @Test func passCarriesTheRepliesFieldsAndTheVerdict() throws {
        let result = plan(FilterReply(id: "Q1.0", action: .pass, reason: "looks fine", addHeaders: [.init(name: "X-Rule", value: "ok")]))
        guard case .deliver(let targets, let edits) = result.disposition else { Issue.record("not delivered"); return }
        #expect(targets.map(\.address) == ["alice+news@example.com"])
        #expect(edits.addedFields == [.init(name: "X-Rule", value: "ok")])
        #expect(edits.verdict == #"action=pass; owner=alice@example.com; source=client; reason="looks fine""#)
        #expect(edits.spamScore == nil)
    }

    @Test func refusedFieldsAreWarnedAbout() {
        let result = plan(FilterReply(id: "Q1.0", action: .pass, addHeaders: [.init(name: "X-Filter-Verdict", value: "forged")]))
        #expect(result.warnings == ["header field refused: X-Filter-Verdict: X-Filter-* fields belong to the filter"])
    }

    @Test func denyDiscardsByDefaultAndBouncesByPolicy() {
        let reply = FilterReply(id: "Q1.0", action: .deny, reason: "blocked sender")
        #expect(plan(reply).disposition == .discard(reason: "blocked sender"))
        let bounced = plan(reply) { $0.actions.deny = .bounce }
        #expect(bounced.disposition == .bounce(diagnostic: "rejected by the recipient's mail filter"))
        let disclosed = plan(reply) {
            $0.actions.deny = .bounce
            $0.actions.discloseReason = true
        }
        #expect(disclosed.disposition == .bounce(diagnostic: "rejected by the recipient's mail filter: blocked sender"))
    }

    @Test func anOwnerOverridesTheServersPolicy() {
        let reply = FilterReply(id: "Q1.0", action: .deny)
        var override = ActionPolicy.Override()
        override.deny = .bounce
        let result = plan(reply) { $0.ownerPolicies["alice@example.com"] = .init(actions: override) }
        #expect(result.disposition == .bounce(diagnostic: "rejected by the recipient's mail filter"))
    }

    @Test func spamIsMarkedTaggedAndRedirected() {
        let reply = FilterReply(
            id: "Q1.0", action: .spam, addHeaders: [.init(name: "X-Spam-Status", value: "client's"), .init(name: "X-Spam-Report", value: "r")],
            score: 9.5)
        let result = plan(reply) {
            $0.actions.spamSubjectTag = "[SPAM]"
            $0.actions.spamRedirect = .extension("spam")
        }
        guard case .deliver(let targets, let edits) = result.disposition else { Issue.record("not delivered"); return }
        #expect(targets.map(\.address) == ["alice+spam@example.com"])
        #expect(targets.first?.originalRecipient == "rfc822;alice+2Bnews@example.com", "xtext, RFC 3461")
        #expect(targets.first?.notify == [.failure])
        #expect(edits.spamScore == .init(score: 9.5))
        #expect(edits.subjectTag == "[SPAM]")
        #expect(edits.addedFields.map(\.name) == ["X-Spam-Report"], "the server writes X-Spam-Status itself")
    }

    @Test func theRepliesSubjectTagWinsOverThePolicys() {
        let result = plan(FilterReply(id: "Q1.0", action: .spam, subjectTag: "***JUNK***")) { $0.actions.spamSubjectTag = "[SPAM]" }
        guard case .deliver(_, let edits) = result.disposition else { Issue.record("not delivered"); return }
        #expect(edits.subjectTag == "***JUNK***")
        #expect(result.warnings.isEmpty)
    }

    @Test func aSubjectTagWithLineBreaksIsCleanedAndWarnedAbout() {
        let result = plan(FilterReply(id: "Q1.0", action: .spam, subjectTag: "[TAG]\r\nBcc: victim@example.com"))
        guard case .deliver(_, let edits) = result.disposition else { Issue.record("not delivered"); return }
        #expect(edits.subjectTag == "[TAG]  Bcc: victim@example.com")
        #expect(result.warnings == ["subject tag: control characters replaced by spaces (header injection)"])
    }

    @Test func virusAndQuarantineGoToTheStore() {
        #expect(plan(FilterReply(id: "Q1.0", action: .virus, reason: "Eicar-Test-Signature")).disposition
            == .quarantine(action: .virus, reason: "Eicar-Test-Signature"))
        #expect(plan(FilterReply(id: "Q1.0", action: .quarantine)).disposition == .quarantine(action: .quarantine, reason: "no reason given"))
    }

    @Test func forwardRedirectsOrCopiesToAllowedDomains() {
        let reply = FilterReply(id: "Q1.0", action: .forward, forward: ["boss@corp.example", "x@sub.partner.example"])
        let allowed: (inout FilteringConfiguration) -> Void = { $0.actions.forwardDomains = ["corp.example", "*.partner.example"] }
        guard case .deliver(let targets, let edits) = plan(reply, configure: allowed).disposition else { Issue.record("not delivered"); return }
        #expect(targets.map(\.address) == ["boss@corp.example", "x@sub.partner.example"])
        #expect(edits.verdict.hasPrefix("action=forward;"))
        let copied = plan(reply) {
            allowed(&$0)
            $0.actions.forwardMode = .copy
        }
        guard case .deliver(let copyTargets, _) = copied.disposition else { Issue.record("not delivered"); return }
        #expect(copyTargets.map(\.address) == ["alice+news@example.com", "boss@corp.example", "x@sub.partner.example"])
    }

    @Test(arguments: [
        (["boss@elsewhere.example"], "forwarding to elsewhere.example is not allowed"),
        (["not an address"], "not a valid address: not an address"),
        (["a@corp.example\r\nRCPT TO:<x@evil.example>"], "not a valid address: a@corp.example  RCPT TO:<x@evil.example>"),
        (["a@corp.example", "b@corp.example", "c@corp.example"], "3 addresses, at most 2 allowed"),
        ([], "no addresses given"),
    ])
    func refusedForwardsAreDeliveredToTheRecipient(addresses: [String], reason: String) {
        let result = plan(FilterReply(id: "Q1.0", action: .forward, forward: addresses)) {
            $0.actions.forwardDomains = ["corp.example"]
            $0.actions.forwardMaximumAddresses = 2
        }
        guard case .deliver(let targets, let edits) = result.disposition else { Issue.record("not delivered"); return }
        #expect(targets.map(\.address) == ["alice+news@example.com"])
        #expect(edits.verdict.hasPrefix("action=pass;"))
        #expect(edits.verdict.contains("forward refused: \(reason)"))
        #expect(result.warnings == ["forward refused, delivered to the recipient: \(reason)"])
    }

    @Test func pendingHoldsUntilRetryAfterButNoLongerThanTheMaximumHold() {
        #expect(plan(FilterReply(id: "Q1.0", action: .pending, retryAfter: 30)).disposition == .hold(until: now.addingTimeInterval(30)))
        #expect(plan(FilterReply(id: "Q1.0", action: .pending)).disposition == .hold(until: now.addingTimeInterval(300)))
        var filtering = FilteringConfiguration(serverID: "mx")
        filtering.actions.maximumHold = .seconds(100)
        let reply = FilterReply(id: "Q1.0", action: .pending, retryAfter: 60)
        let held = entry(decision: RecipientDecision(action: .pending, source: .client, reply: reply), heldSince: now.addingTimeInterval(-70))
        #expect(DeliveryPlanner(filtering: filtering).plan(held, recipientAt: 0, now: now).disposition == .hold(until: now.addingTimeInterval(30)))
    }

    @Test func theVerdictIsPrintableASCIIAndQuoted() {
        let verdict = DeliveryPlanner.verdict(.deny, owner: "bob@example.com", source: .client, reason: "Spät \"quoted\" \\ and\r\nmore")
        #expect(verdict == #"action=deny; owner=bob@example.com; source=client; reason="Sp?t \"quoted\" \\ and??more""#)
    }

    @Test(arguments: [
        ("a@example.com", "example.com"), ("First.Last+tag@Sub.Example.COM", "sub.example.com"),
        ("\"quoted\"@example.com", nil), ("a@localhost", nil), ("a@-bad.example", nil), ("@example.com", nil),
        ("a b@example.com", nil), ("a@exa_mple.com", nil),
    ] as [(String, String?)])
    func mailboxDomains(address: String, domain: String?) {
        #expect(DeliveryAddress.domain(of: address) == domain)
    }
}
