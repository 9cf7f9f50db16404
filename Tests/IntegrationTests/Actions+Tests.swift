import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Every action the server applies, end to end: Postfix → `filterd server` → RabbitMQ (the
/// shared node) → a scripted client that replies whatever a case needs, hostile replies
/// included → the server applies the action → Postfix → Maildir. One chain serves every case
/// of `everyAction`; each case has its own owners (random suffix) and Subject token.
@Suite("Actions applied through Postfix, filterd server and RabbitMQ", .enabled(if: Repository.integrationEnabled), .serialized)
struct ActionsTests {
    /// The global deadline, in seconds: long, no case waits for it.
    static let deadline = 20
    /// `max_hold` of the owner whose client answers `pending` for ever, in seconds.
    static let maximumHold = 3
    /// How long to wait before concluding that no message (a DSN) is coming: a DSN is spooled
    /// before the failure is recorded and delivered within a second or two after that.
    static let quietPeriod: Duration = .seconds(3)
    /// What forged incoming `X-Filter-*` fields say, to be looked for in delivered copies.
    static let forgeryMark = "forgery-mark"

    @Test("pass, spam, forward, deny, pending, spam redirect, virus and quarantine with release, hostile replies")
    func everyAction() async throws {
        try await BrokerFixture.withFixture { fixture in
            let owners = try await Owners(fixture)
            var filtering = fixture.filtering(deadline: Self.deadline, configuration: owners.configuration)
            filtering.extraArguments = ["--deny-policy", "bounce"]
            try await ScriptedClient.withRunning(broker: fixture.broker, owners: owners.all, rules: owners.rules) { client in
                try await FilterChain.withRunningChain(filtering: filtering) { postfix, filterd in
                    let chain = Chain(fixture: fixture, owners: owners, postfix: postfix, filterd: filterd, client: client)
                    try await Self.threeOwnersThreeActions(chain)
                    try await Self.headerInjection(chain)
                    try await Self.forgedFilterHeaders(chain)
                    try await Self.refusedForwards(chain)
                    try await Self.forwardCopy(chain)
                    try await Self.denials(chain)
                    try await Self.pending(chain)
                    try await Self.spamRedirect(chain)
                    try await Self.encodedSubjectTag(chain)
                    try await Self.virusAndQuarantine(chain)
                }
            }
        }
    }

    // MARK: - 1. Three owners, three actions

    /// One message, three owners: each delivered copy carries only its own owner's edits and
    /// verdict; the spam copy is marked, the others keep the incoming `X-Spam-*` fields.
    private static func threeOwnersThreeActions(_ chain: Chain) async throws {
        let owners = chain.owners
        let token = UUID().uuidString
        try await chain.send(
            to: [owners.pass.user, owners.spam.user, owners.forward.user], subject: "three owners \(token)",
            headers: ["X-Spam-Flag: NO", "X-Spam-Score: -1.0", "X-Spam-Status: No, score=-1.0", "X-Spam-Report: incoming"])
        let passed = try await chain.single(owners.pass.user, containing: token)
        let spam = try await chain.single(owners.spam.user, containing: token)
        let forwarded = try await chain.single(owners.forwardTarget, containing: token)
        try await chain.filterd.waitForEmptySpool()
        #expect(try chain.messages(owners.forward.user).isEmpty, "forward (redirect) also delivered to the recipient")

        #expect(passed.headerValues("X-Filter-Verdict") == [
            #"action=pass; owner=\#(owners.pass.user); source=client; reason="clean""#,
        ])
        #expect(passed.headerValues("X-Owner-A") == ["alpha"])
        #expect(passed.headerValues("X-Owner-B").isEmpty && passed.headerValues("X-Owner-C").isEmpty)
        #expect(passed.headerValues("X-Spam-Flag") == ["NO"])
        #expect(passed.headerValues("X-Spam-Report") == ["incoming"])
        #expect(passed.headerValue("Subject") == "three owners \(token)")

        #expect(spam.headerValues("X-Filter-Verdict") == [
            #"action=spam; owner=\#(owners.spam.user); source=client; reason="looks like spam""#,
        ])
        #expect(spam.headerValues("X-Owner-B") == ["beta"])
        #expect(spam.headerValues("X-Owner-A").isEmpty && spam.headerValues("X-Owner-C").isEmpty)
        #expect(spam.headerValues("X-Spam-Flag") == ["YES"])
        #expect(spam.headerValues("X-Spam-Score") == ["7.5"])
        #expect(spam.headerValues("X-Spam-Status") == ["Yes, score=7.5"])
        #expect(spam.headerValues("X-Spam-Report").isEmpty, "an incoming X-Spam-* field survived on the spam copy")
        #expect(spam.headerValue("Subject") == "[SPAM] three owners \(token)")

        #expect(forwarded.headerValues("X-Filter-Verdict") == [
            #"action=forward; owner=\#(owners.forward.user); source=client; reason="to the archive""#,
        ])
        #expect(forwarded.headerValues("X-Owner-C") == ["gamma"])
        #expect(forwarded.headerValues("X-Owner-A").isEmpty && forwarded.headerValues("X-Owner-B").isEmpty)
        #expect(forwarded.headerValues("X-Spam-Flag") == ["NO"])
        #expect(forwarded.headerValue("Subject") == "three owners \(token)")
        for copy in [passed, spam, forwarded] {
            let filterdTrace = copy.headerValues("Received").filter { $0.contains("by \(chain.filterd.hostname) (filterd)") }
            #expect(filterdTrace.count == 1, "filterd's own Received field: \(filterdTrace)")
        }
    }

    // MARK: - 2. Header injection in replies

    /// Replies that try to inject fields: none appears, the mail is delivered, each refusal is
    /// logged as a warning.
    private static func headerInjection(_ chain: Chain) async throws {
        let owner = chain.owners.injection.user
        let token = UUID().uuidString
        try await chain.send(to: [owner], subject: "\(Owners.hostileHeadersSubject) \(token)")
        let message = try await chain.single(owner, containing: token)
        #expect(message.headerValues("X-Good") == ["fine"])
        #expect(message.headerValues("X-Injected").isEmpty)
        #expect(message.headerValues("Bcc").isEmpty)
        #expect(message.headerValues("X-Evil").isEmpty)
        #expect(!message.header.contains("Bad Name"))
        #expect(!message.header.contains("X-Bad:Colon"))
        #expect(!message.header.contains("forged"), "a forged field or value reached the copy:\n\(message.header)")
        #expect(message.headerValues("X-Filter-Verdict") == [
            #"action=pass; owner=\#(owner); source=client; reason="hostile headers""#,
        ])
        let refusals = chain.filterd.logLines(containing: "Reply not followed in full")
            .filter { $0.contains("<\(owner)>") }
        #expect(refusals.count == Owners.hostileHeaders.count - 1, "refusals:\n\(refusals.joined(separator: "\n"))")
        #expect(refusals.contains { $0.contains("header injection") })
        #expect(refusals.contains { $0.contains("X-Filter-* fields belong to the filter") })
        #expect(refusals.contains { $0.contains("the filter does not let replies set Received") })
        #expect(refusals.filter { $0.contains("not a valid field name") }.count == 3)
        #expect(refusals.allSatisfy { $0.contains("warning") })

        let tagToken = UUID().uuidString
        try await chain.send(to: [owner], subject: "\(Owners.hostileTagSubject) \(tagToken)")
        let tagged = try await chain.single(owner, containing: tagToken)
        let subject = try #require(tagged.headerValue("Subject"))
        #expect(subject.hasPrefix("[TAG]"))
        #expect(subject.hasSuffix("\(Owners.hostileTagSubject) \(tagToken)"))
        #expect(tagged.headerValues("Bcc").isEmpty)
        #expect(tagged.headerValues("Subject").count == 1)
        #expect(try chain.messages(chain.owners.victim).isEmpty)
        let tagWarnings = chain.filterd.logLines(containing: "Reply not followed in full")
            .filter { $0.contains("<\(owner)>") && $0.contains("subject tag") }
        #expect(tagWarnings.count == 1, "no warning for a subject tag with CR/LF")
        try await chain.filterd.waitForEmptySpool()
    }

    // MARK: - 3. Forged X-Filter-* fields

    /// Incoming `X-Filter-*` fields, folded or in lower case, are stripped from every copy:
    /// a subscribed owner's and an unsubscribed recipient's.
    private static func forgedFilterHeaders(_ chain: Chain) async throws {
        let owners = chain.owners
        let token = UUID().uuidString
        try await chain.send(
            to: [owners.pass.user, owners.unsubscribed], subject: "incoming filter fields \(token)",
            headers: [
                "X-Filter-Verdict: action=pass; owner=\(Self.forgeryMark)@example.test;\r\n source=client",
                "x-filter-quarantine-id: \(Self.forgeryMark)",
                "X-FILTER-SCORE: \(Self.forgeryMark)",
            ])
        let subscribed = try await chain.single(owners.pass.user, containing: token)
        let unsubscribed = try await chain.single(owners.unsubscribed, containing: token)
        try await chain.filterd.waitForEmptySpool()
        #expect(unsubscribed.headerValues("X-Filter-Verdict") == [
            "action=pass; owner=\(owners.unsubscribed); source=unsubscribed",
        ])
        #expect(subscribed.headerValues("X-Filter-Verdict").count == 1)
        for copy in [subscribed, unsubscribed] {
            let filterFields = copy.header.split(separator: "\n").filter { $0.lowercased().hasPrefix("x-filter-") }
            #expect(filterFields.count == 1, "X-Filter-* fields: \(filterFields)")
            #expect(!copy.header.contains(Self.forgeryMark), "a forged field survived:\n\(copy.header)")
        }
    }

    // MARK: - 4. Forward refused

    /// A forward to a domain the policy does not allow, to an address with CR/LF and an SMTP
    /// command in it, or to more addresses than allowed goes to the recipient instead; the
    /// verdict says why, and none of the addresses gets mail.
    private static func refusedForwards(_ chain: Chain) async throws {
        let owner = chain.owners.refusedForward.user
        let token = UUID().uuidString
        try await chain.send(to: [owner], subject: "\(Owners.disallowedDomainSubject) \(token)")
        let message = try await chain.single(owner, containing: token)
        #expect(message.headerValues("X-Filter-Verdict") == [
            #"action=pass; owner=\#(owner); source=client; reason="forward refused: forwarding to elsewhere.test is not allowed""#,
        ])
        #expect(chain.filterd.logLines(containing: "forward refused, delivered to the recipient").contains {
            $0.contains("<\(owner)>") && $0.contains("elsewhere.test")
        })

        let smugglingToken = UUID().uuidString
        try await chain.send(to: [owner], subject: "\(Owners.smuggledForwardSubject) \(smugglingToken)")
        let smuggled = try await chain.single(owner, containing: smugglingToken)
        let verdict = try #require(smuggled.headerValue("X-Filter-Verdict"))
        #expect(verdict.hasPrefix(#"action=pass; owner=\#(owner); source=client; reason="forward refused: not a valid address"#))

        let manyToken = UUID().uuidString
        try await chain.send(to: [owner], subject: "\(Owners.tooManyForwardsSubject) \(manyToken)")
        let many = try await chain.single(owner, containing: manyToken)
        #expect(many.headerValues("X-Filter-Verdict") == [
            #"action=pass; owner=\#(owner); source=client; reason="forward refused: 6 addresses, at most 5 allowed""#,
        ])
        try await chain.filterd.waitForEmptySpool()
        #expect(try chain.messages(chain.owners.victim).isEmpty)
        for address in chain.owners.manyForwardTargets {
            #expect(try chain.messages(address).isEmpty, "\(address) got a refused forward")
        }
    }

    /// `forward.mode: copy`: the recipient and the forward target get the same copy, one
    /// delivery, both with the owner's forward verdict.
    private static func forwardCopy(_ chain: Chain) async throws {
        let owners = chain.owners
        let token = UUID().uuidString
        try await chain.send(to: [owners.forwardCopy.user], subject: "copied \(token)")
        let kept = try await chain.single(owners.forwardCopy.user, containing: token)
        let copied = try await chain.single(owners.copyTarget, containing: token)
        try await chain.filterd.waitForEmptySpool()
        let verdict = #"action=forward; owner=\#(owners.forwardCopy.user); source=client; reason="keep and copy""#
        #expect(kept.headerValues("X-Filter-Verdict") == [verdict])
        #expect(copied.headerValues("X-Filter-Verdict") == [verdict])
        // One transaction for both: Postfix received them under one queue id.
        let keptQueueID = try #require(reinjectionQueueID(of: kept, filterd: chain.filterd))
        #expect(reinjectionQueueID(of: copied, filterd: chain.filterd) == keptQueueID)
    }

    // MARK: - 5. Deny: discard, bounce, and no DSN where the rules say so

    /// `deny` with the owner's `discard` override, with the server's `--deny-policy bounce` (a
    /// DSN checked field by field), and the bounces the DSN rules suppress.
    private static func denials(_ chain: Chain) async throws {
        let owners = chain.owners
        let discarded = UUID().uuidString
        let discardSender = chain.fixture.owner("discard-sender")
        try await chain.send(from: discardSender, to: [owners.discard.user], subject: "discarded \(discarded)")
        try await chain.filterd.waitForLog(containing: "Denied; discarded")

        // The bounce, with ENVID and ORCPT to be reported back.
        let bounced = UUID().uuidString
        let bounceSender = chain.fixture.owner("bounce-sender")
        let envelopeID = "envid-\(bounced)"
        let originalRecipient = chain.fixture.owner("original-bounce")
        try await chain.send(
            from: bounceSender, to: [owners.bounce.user], subject: "bounced \(bounced)",
            mailParameters: ["RET=HDRS", "ENVID=\(envelopeID)"],
            recipientParameters: ["NOTIFY=FAILURE", "ORCPT=rfc822;\(originalRecipient)"])
        let dsnFile = try await chain.single(bounceSender, containing: "")
        let dsn = try await DeliveryStatusReport.parse(dsnFile.url)
        #expect(dsn.contentType == "multipart/report")
        #expect(dsn.reportType == "delivery-status")
        #expect(dsn.partTypes == ["text/plain", "message/delivery-status", "text/rfc822-headers"])
        #expect(dsn.headers["Auto-Submitted"]?.hasPrefix("auto-replied") == true)
        // pipe(8) writes the null reverse-path as MAILER-DAEMON (its null_sender default); any
        // other sender would carry a domain (Postfix appends $myorigin to bare names).
        #expect(dsn.headers["Return-Path"] == "<MAILER-DAEMON>", "a DSN must have the null reverse-path")
        #expect(dsn.headers["To"]?.contains(bounceSender) == true)
        #expect(dsn.messageFields["Reporting-MTA"] == "dns; \(chain.filterd.hostname)")
        #expect(dsn.messageFields["Original-Envelope-Id"] == envelopeID)
        #expect(dsn.messageFields["Arrival-Date"] != nil)
        #expect(dsn.recipientFields.count == 1)
        let recipient = try #require(dsn.recipientFields.first)
        #expect(recipient["Final-Recipient"].map(compact) == "rfc822;\(owners.bounce.user)")
        #expect(recipient["Original-Recipient"].map(compact) == "rfc822;\(originalRecipient)")
        #expect(recipient["Action"] == "failed")
        #expect(recipient["Status"] == "5.7.1")
        let diagnostic = try #require(recipient["Diagnostic-Code"])
        #expect(diagnostic.contains("rejected by the recipient's mail filter"))
        // disclose_reason is off by default: the client's reason stays private.
        #expect(!diagnostic.contains(Owners.denyReason))
        #expect(!dsn.explanation.contains(Owners.denyReason))
        #expect(dsn.returned.contains("bounced \(bounced)"))
        #expect(dsn.returned.contains("Subject:"))
        #expect(!dsn.returned.contains("Sent by the filterd action tests"), "RET=HDRS returned the body")

        // An owner whose policy discloses the client's reason (disclose_reason: true).
        let disclosedSender = chain.fixture.owner("disclosed-sender")
        try await chain.send(from: disclosedSender, to: [owners.disclosed.user], subject: "disclosed \(UUID().uuidString)")
        let disclosedDSN = try await DeliveryStatusReport.parse(try await chain.single(disclosedSender, containing: "").url)
        #expect(disclosedDSN.recipientFields.first?["Diagnostic-Code"]?.contains(
            "rejected by the recipient's mail filter: \(Owners.denyReason)") == true)

        // No DSN: the null sender, NOTIFY=NEVER, Precedence: bulk, and mail another owner
        // judged spam.
        let neverSender = chain.fixture.owner("never-sender")
        let bulkSender = chain.fixture.owner("bulk-sender")
        let judgedSender = chain.fixture.owner("judged-sender")
        let judged = UUID().uuidString
        try await chain.send(from: "", to: [owners.bounce.user], subject: "null sender \(UUID().uuidString)")
        try await chain.send(
            from: neverSender, to: [owners.bounce.user], subject: "notify never \(UUID().uuidString)",
            recipientParameters: ["NOTIFY=NEVER"])
        try await chain.send(
            from: bulkSender, to: [owners.bounce.user], subject: "bulk \(UUID().uuidString)", headers: ["Precedence: bulk"])
        try await chain.send(from: judgedSender, to: [owners.bounce.user, owners.spam.user], subject: "judged \(judged)")
        _ = try await chain.single(owners.spam.user, containing: judged)
        for sender in ["", neverSender, bulkSender, judgedSender] {
            try await chain.waitForLog("No DSN sent: suppressed by the DSN rules", and: "mail.from=<\(sender)>")
        }
        try await chain.filterd.waitForEmptySpool()
        try await Task.sleep(for: Self.quietPeriod)

        #expect(chain.filterd.logLines(containing: "Denied; discarded").count == 1)
        #expect(chain.filterd.logLines(containing: "Denied; bounced").count == 6)
        #expect(chain.filterd.logLines(containing: "DSN queued").count == 2)
        for mailbox in [owners.discard.user, owners.bounce.user, discardSender, neverSender, bulkSender, judgedSender] {
            #expect(try chain.messages(mailbox).isEmpty, "\(mailbox) got mail")
        }
        #expect(try chain.messages(bounceSender).count == 1, "more than one DSN")
        #expect(try chain.messages(disclosedSender).count == 1, "more than one DSN")
        let bounceRequests = try chain.client.requests(owner: owners.bounce.user, subject: "")
        #expect(bounceRequests.count == 5, "requests: \(bounceRequests)")
    }

    // MARK: - 6. Pending

    /// `pending` holds the recipient in the spool and the owner is asked again with the same
    /// id; one message is released by the later `pass`, another reaches the owner's maximum
    /// hold and gets the owner's fallback action (`spam`).
    private static func pending(_ chain: Chain) async throws {
        let owners = chain.owners
        let released = "held \(UUID().uuidString)"
        let expired = "hold expires \(UUID().uuidString)"
        try await chain.send(to: [owners.held.user], subject: released)
        try await chain.send(to: [owners.maximumHold.user], subject: expired)
        try await chain.waitForSpoolListing { $0.contains("<\(owners.held.user)>:held") }

        let releasedCopy = try await chain.single(owners.held.user, containing: released)
        #expect(releasedCopy.headerValues("X-Filter-Verdict") == [
            #"action=pass; owner=\#(owners.held.user); source=client; reason="released""#,
        ])
        let releasedRequests = try chain.client.requests(owner: owners.held.user, subject: released)
        #expect(releasedRequests.count == 2)
        #expect(Set(releasedRequests.map(\.id)).count == 1, "asked again with a new id: \(releasedRequests)")

        let expiredCopy = try await chain.single(owners.maximumHold.user, containing: expired, timeout: .seconds(60))
        #expect(expiredCopy.headerValues("X-Filter-Verdict") == [
            "action=spam; owner=\(owners.maximumHold.user); source=maximum-hold",
        ])
        #expect(expiredCopy.headerValues("X-Spam-Flag") == ["YES"])
        let expiredRequests = try chain.client.requests(owner: owners.maximumHold.user, subject: expired)
        #expect(expiredRequests.count >= 2)
        #expect(Set(expiredRequests.map(\.id)).count == 1, "asked again with a new id: \(expiredRequests)")
        #expect(chain.filterd.logLines(containing: "Maximum hold reached").contains { $0.contains("<\(owners.maximumHold.user)>") })
        try await chain.filterd.waitForEmptySpool()
    }

    // MARK: - 7. Spam redirect

    /// `spam.redirect: "+spam"`: the copy goes to `user+spam@`, which Postfix (recipient
    /// delimiter `+`) delivers to the user's Maildir with `Delivered-To` naming `user+spam`.
    private static func spamRedirect(_ chain: Chain) async throws {
        let owner = chain.owners.redirect.user
        let token = UUID().uuidString
        try await chain.send(to: [owner], subject: "redirected \(token)")
        let message = try await chain.single(owner, containing: token)
        let at = try #require(owner.firstIndex(of: "@"))
        let spamAddress = "\(owner[..<at])+spam\(owner[at...])"
        #expect(message.headerValues("Delivered-To") == [spamAddress])
        #expect(message.headerValues("X-Spam-Flag") == ["YES"])
        #expect(message.headerValues("X-Filter-Verdict") == [
            #"action=spam; owner=\#(owner); source=client; reason="spam folder""#,
        ])
        try await chain.filterd.waitForEmptySpool()
    }

    // MARK: - RFC 2047 subject tag

    /// A non-ASCII tag in front of an encoded subject (no SMTPUTF8): the tag becomes an
    /// encoded-word, and the whole subject decodes, with Python's `email.header`, to the tag,
    /// one space and the original text.
    private static func encodedSubjectTag(_ chain: Chain) async throws {
        let token = UUID().uuidString
        try await chain.send(
            to: [chain.owners.spam.user], subject: "=?UTF-8?Q?Gr=C3=BC=C3=9Fe?= \(Owners.encodedSubject) \(token)")
        let message = try await chain.single(chain.owners.spam.user, containing: token)
        let subject = try #require(message.headerValue("Subject"))
        #expect(subject.unicodeScalars.allSatisfy { $0.isASCII }, "a raw non-ASCII subject without SMTPUTF8: \(subject)")
        #expect(try await decodedHeader(subject) == "[SPÄM] Grüße \(Owners.encodedSubject) \(token)")
        try await chain.filterd.waitForEmptySpool()
    }

    // MARK: - virus and quarantine, release

    /// `virus` and `quarantine` are never delivered: each goes into the quarantine store (in the
    /// spool directory by default) and leaves the spool. The virus sends the notices the owner's
    /// policy asks for (to the recipient and to an administrator); the quarantined message is
    /// released with `filterctl quarantine release` and arrives through the normal delivery
    /// path, without its owner being asked again.
    private static func virusAndQuarantine(_ chain: Chain) async throws {
        let owners = chain.owners
        let virus = "virus \(UUID().uuidString)"
        let quarantined = "quarantine \(UUID().uuidString)"
        try await chain.send(to: [owners.virus.user], subject: virus)
        try await chain.send(to: [owners.quarantine.user], subject: quarantined)
        let listing = try await chain.waitForQuarantineListing {
            $0.contains("<\(owners.virus.user)>") && $0.contains("<\(owners.quarantine.user)>")
        }
        try await chain.filterd.waitForEmptySpool()
        let lines = listing.split(separator: "\n").map(String.init)
        let virusLine = try #require(lines.first { $0.contains("<\(owners.virus.user)>") })
        let quarantineLine = try #require(lines.first { $0.contains("<\(owners.quarantine.user)>") })
        #expect(virusLine.contains(" virus <sender@example.test> <\(owners.virus.user)> "))
        #expect(virusLine.hasSuffix(" Eicar-Test-Signature"))
        #expect(quarantineLine.contains(" quarantine <sender@example.test> <\(owners.quarantine.user)> "))
        #expect(quarantineLine.hasSuffix(" suspicious attachment"))
        let virusID = try #require(virusLine.split(separator: " ").first.map(String.init))
        let quarantineID = try #require(quarantineLine.split(separator: " ").first.map(String.init))
        let details = try await chain.filterd.filterctlQuarantine(["show", virusID]).requireSuccess().standardOutput
        #expect(details.contains("reason: Eicar-Test-Signature"))
        #expect(details.contains("Subject: \(virus)"))

        // The notices: one to the recipient, one to the administrator; neither is the message.
        let notice = try await chain.single(owners.virus.user, containing: "Quarantine id: \(virusID)")
        #expect(notice.headerValue("Subject") == "Virus found in a message for \(owners.virus.user)")
        #expect(notice.contents.contains("Eicar-Test-Signature"))
        let adminNotice = try await chain.single(owners.virusAdministrator, containing: "Quarantine id: \(virusID)")
        #expect(adminNotice.headerValue("Subject") == "Virus found in a message for \(owners.virus.user)")
        #expect(try chain.messages(owners.virus.user).count == 1, "the virus was delivered besides its notice")
        #expect(try chain.messages(owners.quarantine.user).isEmpty, "quarantined mail was delivered, or a notice sent")

        let released = try await chain.filterd.filterctlQuarantine(["release", quarantineID]).requireSuccess()
        #expect(released.standardOutput.contains("\(quarantineID) released to <\(owners.quarantine.user)>"))
        let delivered = try await chain.single(owners.quarantine.user, containing: quarantined)
        #expect(delivered.headerValue("Subject") == quarantined)
        #expect(delivered.headerValues("X-Filter-Verdict") == [
            "action=pass; owner=\(owners.quarantine.user); source=released",
        ])
        try await chain.filterd.waitForEmptySpool()
        let after = try await chain.filterd.filterctlQuarantine(["list"]).requireSuccess().standardOutput
        #expect(!after.contains(quarantineID), "a released entry is still listed:\n\(after)")
        #expect(after.contains(virusID))
        #expect(chain.filterd.logLines(containing: "Released from the quarantine by the operator").count == 1)
        #expect(try chain.client.requests(owner: owners.quarantine.user, subject: quarantined).count == 1)
    }

    // MARK: - 8. SIGKILL between decision and delivery

    @Test("SIGKILL after the decision was saved with a deferred attempt: delivered once after a restart, not asked again")
    func killedAfterTheDecisionWasSaved() async throws {
        // The first next hop is a port nobody listens on: the decided message can only be
        // deferred, and the decision is saved with that outcome.
        let closedPort = try freePort()
        try await Self.withCrashedServer(firstNextHop: closedPort) { first, owner in
            try await waitForListing(first.spoolDirectory) { $0.contains("<\(owner)>:deferred") }
        } afterRestart: { requests, second in
            #expect(requests.count == 1, "the decision was lost and asked for again: \(requests)")
            #expect(second.logLines(containing: "Owner decided").isEmpty, "the restarted server asked again")
        }
    }

    @Test("SIGKILL after the decision and before it was saved (next hop silent): asked again with the same id, delivered once")
    func killedBeforeTheDecisionWasSaved() async throws {
        // The first next hop accepts connections and never answers: the attempt hangs after
        // the decision, before its outcome (and the decision with it) is saved.
        try await SilentListener.withRunning { silent in
            try await Self.withCrashedServer(firstNextHop: silent.port) { first, owner in
                try await first.waitForLog(containing: "Owner decided")
                try await silent.waitForConnection()
                try await waitForListing(first.spoolDirectory) { $0.contains("<\(owner)>:pending") }
            } afterRestart: { requests, second in
                #expect(requests.count == 2, "requests: \(requests)")
                #expect(Set(requests.map(\.id)).count == 1, "asked again with a new id: \(requests)")
                #expect(second.logLines(containing: "Owner decided").count == 1)
            }
        }
    }

    /// Starts Postfix and a first filterd that delivers to `firstNextHop`, sends one message
    /// to an owner whose client passes it with a header of its own, runs `beforeKill` (with
    /// that filterd and the owner), kills
    /// that filterd with SIGKILL, checks the spool without a server, then starts a second
    /// filterd on the same spool that delivers to Postfix: the message must arrive once,
    /// with the decision's edits. `afterRestart` gets the client's requests for the message.
    private static func withCrashedServer(
        firstNextHop: UInt16,
        beforeKill: (FilterdProcess, String) async throws -> Void,
        afterRestart: ([ScriptedClient.Request], FilterdProcess) async throws -> Void
    ) async throws {
        try await BrokerFixture.withFixture { fixture in
            let owner = try await fixture.addOwner("crash")
            let rules = [
                ScriptedClient.Rule(owner: owner.user, subject: "", replies: [
                    .init(action: "pass", reason: "decided once", addHeaders: [.init(name: "X-Decided", value: "once")]),
                ]),
            ]
            try await ScriptedClient.withRunning(broker: fixture.broker, owners: [owner], rules: rules) { client in
                try await PostfixInstance.withRunningInstance { postfix in
                    let root = try Repository.makeTemporaryDirectory(prefix: "filterd-actions-crash")
                    defer {
                        if !Repository.keepArtifacts { try? FileManager.default.removeItem(at: root) }
                    }
                    let spool = root.appendingPathComponent("spool")
                    let filtering = fixture.filtering(deadline: Self.deadline)
                    let subject = "crash \(UUID().uuidString)"
                    try await FilterdProcess.withRunning(
                        listenPort: postfix.filterPort, nextHopPort: firstNextHop, spoolDirectory: spool, filtering: filtering
                    ) { first in
                        try await Swaks.send(port: postfix.smtpPort, to: [owner.user], subject: subject).requireSuccess()
                        try await beforeKill(first, owner.user)
                        kill(first.process.processIdentifier, SIGKILL)
                        await first.stop()
                    }
                    // With no server running, filterctl reads the spool the killed server left.
                    let listing = try await Filterctl.spool(["list"], spoolDirectory: spool).requireSuccess().standardOutput
                    #expect(listing.contains("1 message(s) in the spool"), "spool after the kill:\n\(listing)")

                    try await FilterdProcess.withRunning(
                        listenPort: postfix.filterPort, nextHopPort: postfix.reinjectPort, spoolDirectory: spool,
                        filtering: filtering
                    ) { second in
                        let user = localPart(owner.user)
                        let delivered = try await postfix.waitForMaildir(user: user, count: 1)
                        try await second.waitForEmptySpool()
                        try await Task.sleep(for: Self.quietPeriod)
                        #expect(try postfix.deliveredMessages(user: user).count == 1, "delivered more than once")
                        let message = try #require(delivered.first)
                        #expect(message.headerValue("Subject") == subject)
                        #expect(message.headerValues("X-Decided") == ["once"])
                        #expect(message.headerValues("X-Filter-Verdict") == [
                            #"action=pass; owner=\#(owner.user); source=client; reason="decided once""#,
                        ])
                        try await afterRestart(try client.requests(owner: owner.user, subject: subject), second)
                    }
                }
            }
        }
    }
}

// MARK: - Support

/// The owners of `everyAction`, each standing for one case, their client's script and the
/// server's `filtering:` lines for their policies.
private struct Owners {
    /// One owner per case, named after the action its client replies (`fwd.copy`, `maxhold`,
    /// ... as local parts; see `init`).
    let pass, spam, forward, forwardCopy, injection, refusedForward, discard, bounce, disclosed, held, maximumHold,
        redirect, virus, quarantine: BrokerNode.Credentials
    /// Where `forward` forwards to (allowed: `example.test`); no broker user.
    let forwardTarget: String
    /// Where the `copy` forward goes.
    let copyTarget: String
    /// Six addresses, one more than a forward may have.
    let manyForwardTargets: [String]
    /// A recipient without a queue: the default action.
    let unsubscribed: String
    /// The address hostile replies try to smuggle in; must never get mail.
    let victim: String
    /// The administrator who gets a notice for every virus of the virus owner.
    let virusAdministrator: String

    /// Subject words that pick a rule when one owner replies differently per message.
    static let hostileHeadersSubject = "hostile-headers"
    static let hostileTagSubject = "hostile-tag"
    static let disallowedDomainSubject = "forward-elsewhere"
    static let smuggledForwardSubject = "forward-smuggled"
    static let tooManyForwardsSubject = "forward-many"
    static let encodedSubject = "encoded-subject"
    /// The first reply's `retryAfter` for the held message, in seconds: long enough that
    /// polling `filterctl spool list` sees `held` even on a loaded machine.
    static let heldRetryAfter = 4
    /// The reason of every `deny`: must reach a DSN only where `disclose_reason` is on.
    static let denyReason = "client-private-reason"

    /// The `addHeaders` of the hostile reply: every one but `X-Good` must be refused.
    static let hostileHeaders: [ScriptedClient.HeaderField] = [
        .init(name: "X-Injected", value: "ok\r\nBcc: forged-victim@example.test"),
        .init(name: "X-Filter-Verdict", value: "action=pass; owner=forged"),
        .init(name: "Received", value: "from forged.example.test"),
        .init(name: "Bad Name", value: "forged"),
        .init(name: "X-Bad:Colon", value: "forged"),
        .init(name: "X-Evil\r\nBcc", value: "forged-victim@example.test"),
        .init(name: "X-Good", value: "fine"),
    ]

    var all: [BrokerNode.Credentials] {
        [
            pass, spam, forward, forwardCopy, injection, refusedForward, discard, bounce, disclosed, held, maximumHold,
            redirect, virus, quarantine,
        ]
    }

    init(_ fixture: BrokerFixture) async throws {
        let names = [
            "pass", "spam", "fwd", "fwd.copy", "inject", "fwd.refused", "discard", "bounce", "disclosed", "held", "maxhold",
            "redirect", "virus", "quarantine",
        ]
        // One at a time: a dozen management API calls at once can time out on a loaded machine.
        var added: [String: BrokerNode.Credentials] = [:]
        for name in names {
            added[name] = try await fixture.addOwner(name)
        }
        func owner(_ name: String) -> BrokerNode.Credentials { added[name]! }
        pass = owner("pass")
        spam = owner("spam")
        forward = owner("fwd")
        forwardCopy = owner("fwd.copy")
        injection = owner("inject")
        refusedForward = owner("fwd.refused")
        discard = owner("discard")
        bounce = owner("bounce")
        disclosed = owner("disclosed")
        held = owner("held")
        maximumHold = owner("maxhold")
        redirect = owner("redirect")
        virus = owner("virus")
        quarantine = owner("quarantine")
        forwardTarget = fixture.owner("fwd-target")
        copyTarget = fixture.owner("copy-target")
        manyForwardTargets = (1...6).map { fixture.owner("many-\($0)") }
        unsubscribed = fixture.owner("nobody")
        victim = fixture.owner("victim")
        virusAdministrator = fixture.owner("virus-admin")
    }

    /// The `filtering:` lines: forwards allowed to `example.test`; per-owner overrides.
    var configuration: [String] {
        [
            "actions:",
            "  forward: {domains: [example.test]}",
            "owners:",
            "  \"\(discard.user)\": {actions: {deny: discard}}",
            "  \"\(forwardCopy.user)\": {actions: {forward: {mode: copy}}}",
            "  \"\(disclosed.user)\": {actions: {disclose_reason: true}}",
            "  \"\(maximumHold.user)\": {fallback_action: spam, actions: {max_hold: \(ActionsTests.maximumHold)}}",
            "  \"\(redirect.user)\": {actions: {spam: {redirect: \"+spam\"}}}",
            "  \"\(virus.user)\": {actions: {virus: {notify_recipient: true, notify: \"\(virusAdministrator)\"}}}",
        ]
    }

    /// What each owner's client replies.
    var rules: [ScriptedClient.Rule] {
        typealias Reply = ScriptedClient.Reply
        typealias Field = ScriptedClient.HeaderField
        func always(_ owner: BrokerNode.Credentials, _ reply: Reply) -> ScriptedClient.Rule {
            .init(owner: owner.user, subject: "", replies: [reply])
        }
        return [
            always(pass, Reply(action: "pass", reason: "clean", addHeaders: [Field(name: "X-Owner-A", value: "alpha")])),
            .init(owner: spam.user, subject: Self.encodedSubject, replies: [
                Reply(action: "spam", reason: "non-ASCII tag", subjectTag: "[SPÄM]", score: 6),
            ]),
            always(spam, Reply(
                action: "spam", reason: "looks like spam", addHeaders: [Field(name: "X-Owner-B", value: "beta")],
                subjectTag: "[SPAM]", score: 7.5)),
            always(forward, Reply(
                action: "forward", reason: "to the archive", forward: [forwardTarget],
                addHeaders: [Field(name: "X-Owner-C", value: "gamma")])),
            always(forwardCopy, Reply(action: "forward", reason: "keep and copy", forward: [copyTarget])),
            .init(owner: injection.user, subject: Self.hostileHeadersSubject, replies: [
                Reply(action: "pass", reason: "hostile headers", addHeaders: Self.hostileHeaders),
            ]),
            .init(owner: injection.user, subject: Self.hostileTagSubject, replies: [
                Reply(action: "spam", reason: "hostile tag", subjectTag: "[TAG]\r\nBcc: \(victim)", score: 5),
            ]),
            .init(owner: refusedForward.user, subject: Self.disallowedDomainSubject, replies: [
                Reply(action: "forward", reason: "send it away", forward: ["someone@elsewhere.test"]),
            ]),
            .init(owner: refusedForward.user, subject: Self.smuggledForwardSubject, replies: [
                Reply(action: "forward", reason: "smuggle", forward: ["\(forwardTarget)>\r\nRCPT TO:<\(victim)"]),
            ]),
            .init(owner: refusedForward.user, subject: Self.tooManyForwardsSubject, replies: [
                Reply(action: "forward", reason: "everyone", forward: manyForwardTargets),
            ]),
            always(discard, Reply(action: "deny", reason: Self.denyReason)),
            always(bounce, Reply(action: "deny", reason: Self.denyReason)),
            always(disclosed, Reply(action: "deny", reason: Self.denyReason)),
            .init(owner: held.user, subject: "", replies: [
                Reply(action: "pending", reason: "not yet", retryAfter: Self.heldRetryAfter),
                Reply(action: "pass", reason: "released"),
            ]),
            always(maximumHold, Reply(action: "pending", reason: "still thinking", retryAfter: 1)),
            always(redirect, Reply(action: "spam", reason: "spam folder", score: 9)),
            always(virus, Reply(action: "virus", reason: "Eicar-Test-Signature", tags: ["virus"])),
            always(quarantine, Reply(action: "quarantine", reason: "suspicious attachment")),
        ]
    }
}

/// One running chain and what the cases of `everyAction` need from it.
private struct Chain {
    let fixture: BrokerFixture
    let owners: Owners
    let postfix: PostfixInstance
    let filterd: FilterdProcess
    let client: ScriptedClient

    /// Sends a message through Postfix's public smtpd with Python's smtplib (ESMTP parameters
    /// pass through), its header section `From`, `To`, `Subject`, `Date`, `Message-ID`, then
    /// `headers`.
    func send(
        from: String = "sender@example.test", to: [String], subject: String, headers: [String] = [],
        mailParameters: [String] = [], recipientParameters: [String] = []
    ) async throws {
        let header = [
            "From: \(from.isEmpty ? "MAILER-DAEMON@example.test" : from)",
            "To: \(to.joined(separator: ", "))",
            "Subject: \(subject)",
            "Date: Thu, 26 Nov 2026 04:00:00 +0000",
            "Message-ID: <\(UUID().uuidString.lowercased())@actions.example.test>",
        ] + headers
        let message = header.joined(separator: "\r\n") + "\r\n\r\nSent by the filterd action tests.\r\n"
        try await PythonSMTPClient.send(
            port: postfix.smtpPort, from: from, to: to, mailParameters: mailParameters,
            recipientParameters: recipientParameters, message: message
        ).requireSuccess()
    }

    /// The messages in the Maildir of `address` (an `example.test` address).
    func messages(_ address: String) throws -> [MailFile] {
        try postfix.deliveredMessages(user: localPart(address))
    }

    /// Waits for the one message in the Maildir of `address` whose text contains `token`, and
    /// checks that there is only one.
    func single(_ address: String, containing token: String, timeout: Duration = .seconds(30)) async throws -> MailFile {
        let deadline = ContinuousClock.now + timeout
        while true {
            let matching = try messages(address).filter { token.isEmpty || $0.contents.contains(token) }
            if let first = matching.first {
                #expect(matching.count == 1, "\(address): \(matching.count) messages contain \(token)")
                return first
            }
            guard ContinuousClock.now < deadline else {
                throw HarnessError(code: .timedOut, message: "\(address): no message containing \"\(token)\" after \(timeout)")
            }
            try await Task.sleep(for: .milliseconds(100))
        }
    }

    /// Waits until filterd logs a line containing both `text` and `detail` (swift-log puts the
    /// metadata before the message).
    func waitForLog(_ text: String, and detail: String, timeout: Duration = .seconds(30)) async throws {
        let deadline = ContinuousClock.now + timeout
        while !filterd.logLines(containing: text).contains(where: { $0.contains(detail) }) {
            guard ContinuousClock.now < deadline else {
                throw HarnessError(code: .timedOut, message: "filterd logged no \"\(text)\" with \"\(detail)\" in \(timeout)")
            }
            try await Task.sleep(for: .milliseconds(100))
        }
    }

    /// Waits until `filterctl quarantine list` satisfies `condition`; returns that listing.
    func waitForQuarantineListing(_ condition: (String) -> Bool, timeout: Duration = .seconds(30)) async throws -> String {
        let deadline = ContinuousClock.now + timeout
        while true {
            let listing = try await filterd.filterctlQuarantine(["list"]).requireSuccess().standardOutput
            if condition(listing) { return listing }
            guard ContinuousClock.now < deadline else {
                throw HarnessError(code: .timedOut, message: "quarantine listing not as expected after \(timeout):\n\(listing)")
            }
            try await Task.sleep(for: .milliseconds(200))
        }
    }

    /// Waits until `filterctl spool list` satisfies `condition`; returns that listing.
    @discardableResult
    func waitForSpoolListing(_ condition: (String) -> Bool) async throws -> String {
        try await waitForListing(filterd.spoolDirectory, condition)
    }
}

/// Waits until `filterctl spool list` on `spool` satisfies `condition`; returns that listing.
@discardableResult
private func waitForListing(
    _ spool: URL, timeout: Duration = .seconds(30), _ condition: (String) -> Bool
) async throws -> String {
    let deadline = ContinuousClock.now + timeout
    while true {
        let listing = try await Filterctl.spool(["list"], spoolDirectory: spool).requireSuccess().standardOutput
        if condition(listing) { return listing }
        guard ContinuousClock.now < deadline else {
            throw HarnessError(code: .timedOut, message: "spool listing not as expected after \(timeout):\n\(listing)")
        }
        try await Task.sleep(for: .milliseconds(200))
    }
}

/// The queue id Postfix gave a copy filterd reinjected, from the `Received` field Postfix
/// added for it (`from <filterd> ... with ESMTP id ID`).
private func reinjectionQueueID(of message: MailFile, filterd: FilterdProcess) -> String? {
    guard let received = message.headerValues("Received").first(where: { $0.hasPrefix("from \(filterd.hostname) ") }),
        let id = received.range(of: "with ESMTP id ")
    else { return nil }
    return String(received[id.upperBound...].prefix { $0.isLetter || $0.isNumber })
}

/// `value` with its RFC 2047 encoded-words decoded by Python's `email.header`.
private func decodedHeader(_ value: String) async throws -> String {
    let script = "import email.header, sys; print(str(email.header.make_header(email.header.decode_header(sys.argv[1]))))"
    let result = try await ProcessRunner.run("python3", ["-c", script, value]).requireSuccess()
    return result.standardOutput.trimmingCharacters(in: .newlines)
}

/// `text` without white space: DSN fields compare as `rfc822;addr` whatever the spacing.
private func compact(_ text: String) -> String {
    text.filter { !$0.isWhitespace }
}
