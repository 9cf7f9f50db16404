import FilterCore
import NIOCore
import Testing

@testable import FilterProcessors

@Suite struct SpamAssassinTests {
    /// A fake spamd that answers every request with `answer`.
    @discardableResult
    func withSpamd<T: Sendable>(
        unixSocket: Bool = false, answering answer: String, _ body: (FakeDaemon) async throws -> T
    ) async throws -> T {
        try await FakeDaemon.withRunning(unixSocket: unixSocket, answer: { _ in .bytes(Array(answer.utf8)) }, body)
    }

    func processor(_ spamd: FakeDaemon, _ options: SpamAssassin.Options = .init()) throws -> SpamAssassin {
        var options = options
        options.address = spamd.address.description
        return try SpamAssassin(options: options)
    }

    @Test(arguments: [false, true])
    func spamIsDecidedWithScoreHeadersAndTags(unixSocket: Bool) async throws {
        try await withSpamd(unixSocket: unixSocket, answering: SpamdFixtures.symbolsGTUBE) { spamd in
            let outcome = try await processor(spamd).process(.fixture(message: "Subject: hi\n\nbody\n"), verdict: Verdict(score: 1))
            #expect(outcome.decision == Decision(.spam, reason: "SpamAssassin score 1000.0 >= 5.0"))
            #expect(outcome.verdict.score == 1001)
            #expect(outcome.verdict.tags == ["GTUBE", "MSGID_SHORT", "NO_RECEIVED", "NO_RELAYS", "TVD_SPACE_RATIO"])
            #expect(outcome.verdict.addHeaders == [
                .init(name: "X-Spam-Score", value: "1000.0"),
                .init(name: "X-Spam-Status", value: "Yes, score=1000.0 required=5.0 tests=GTUBE,MSGID_SHORT,NO_RECEIVED,NO_RELAYS,TVD_SPACE_RATIO"),
            ])
            #expect(spamd.received.map { String(decoding: $0, as: UTF8.self) }
                == ["SYMBOLS SPAMC/1.5\r\nContent-length: 21\r\n\r\nSubject: hi\r\n\r\nbody\r\n"])
        }
    }

    @Test func hamContinuesWithHeaders() async throws {
        try await withSpamd(answering: SpamdFixtures.symbolsHam) { spamd in
            let outcome = try await processor(spamd).process(.fixture(), verdict: Verdict())
            #expect(outcome.decision == nil)
            #expect(outcome.verdict.score == 0)
            #expect(outcome.verdict.addHeaders.last == .init(name: "X-Spam-Status", value: "No, score=-0.0 required=5.0 tests=MSGID_SHORT,NO_RECEIVED,NO_RELAYS"))
        }
    }

    @Test func continueTagsSpamAndGoesOn() async throws {
        try await withSpamd(answering: SpamdFixtures.symbolsGTUBE) { spamd in
            let outcome = try await processor(spamd, .init(action: "continue")).process(.fixture(), verdict: Verdict())
            #expect(outcome.decision == nil)
            #expect(outcome.verdict.tags.last == "spam")
        }
    }

    @Test func theThresholdOverridesSpamds() async throws {
        try await withSpamd(answering: "SPAMD/1.1 0 EX_OK\r\nSpam: False ; 3.2 / 5.0\r\n\r\n") { spamd in
            let outcome = try await processor(spamd, .init(threshold: 3, action: "quarantine")).process(.fixture(), verdict: Verdict())
            #expect(outcome.decision == Decision(.quarantine, reason: "SpamAssassin score 3.2 >= 3.0"))
            #expect(outcome.verdict.addHeaders.last?.value == "Yes, score=3.2 required=3.0 tests=")
        }
        try await withSpamd(answering: SpamdFixtures.symbolsGTUBE) { spamd in
            let outcome = try await processor(spamd, .init(threshold: 2000)).process(.fixture(), verdict: Verdict())
            #expect(outcome.decision == nil)
        }
    }

    @Test func reportAddsTheReportHeaderAndAsksForAUser() async throws {
        try await withSpamd(answering: SpamdFixtures.reportGTUBE) { spamd in
            let outcome = try await processor(spamd, .init(report: true, user: "alice")).process(.fixture(), verdict: Verdict())
            #expect(outcome.verdict.tags == ["NO_RECEIVED", "MSGID_SHORT", "GTUBE", "LONG_RULE"])
            let report = outcome.verdict.addHeaders.first { $0.name == "X-Spam-Report" }?.value
            #expect(report?.hasPrefix("* -0.0 NO_RECEIVED Informational: message has no Received headers * 0.0 MSGID_SHORT") == true)
            let request = String(decoding: spamd.received.first ?? [], as: UTF8.self)
            #expect(request.hasPrefix("REPORT SPAMC/1.5\r\nContent-length: "))
            #expect(request.contains("\r\nUser: alice\r\n\r\n"))
        }
    }

    @Test func aMessageOverMaxSizeIsSkippedWithoutAsking() async throws {
        try await withSpamd(answering: SpamdFixtures.symbolsGTUBE) { spamd in
            let outcome = try await processor(spamd, .init(maxSize: 10)).process(.fixture(), verdict: Verdict())
            #expect(outcome.decision == nil)
            #expect(outcome.verdict.tags == ["spamassassin:skipped-too-large"])
            #expect(spamd.received.isEmpty)
        }
    }

    @Test func aDaemonThatIsDownFailsTheStepAndOnErrorDecides() async throws {
        let address = try await FakeDaemon.closedAddress()
        let spamassassin = try SpamAssassin(options: .init(address: address.description))
        await #expect { try await spamassassin.process(.fixture(), verdict: Verdict()) } throws: { error in
            (error as? DaemonError)?.code == .connectionFailed
        }
        let result = await Pipeline(steps: [PipelineStep(spamassassin, onError: .decide(.pending))]).run(.fixture())
        #expect(result.decision.action == .pending)
        #expect(result.trace.map(\.outcome) == ["error"])
        #expect(result.decision.reason?.contains("spamd at \(address) cannot be reached") == true)
    }

    @Test func aMissingUnixSocketIsAConnectionFailure() async throws {
        let spamassassin = try SpamAssassin(options: .init(address: "/nonexistent/spamd.sock"))
        await #expect { try await spamassassin.process(.fixture(), verdict: Verdict()) } throws: { error in
            (error as? DaemonError)?.code == .connectionFailed
        }
    }

    @Test func aSlowDaemonRunsIntoTheStepTimeout() async throws {
        try await FakeDaemon.withRunning(answer: { _ in .silence }) { spamd in
            let step = PipelineStep(try processor(spamd), timeout: .milliseconds(300), onError: .continue)
            let result = await Pipeline(steps: [step, PipelineStep(try SenderList(options: .init(block: ["@example.org"])))]).run(.fixture())
            #expect(result.trace.map(\.outcome) == ["timeout", "deny"])
        }
    }

    @Test func theClientsOwnTimeoutEndsASilentExchange() async throws {
        try await FakeDaemon.withRunning(answer: { _ in .silence }) { spamd in
            let client = SpamdClient(address: spamd.address, limits: DaemonLimits(timeout: .milliseconds(300)))
            await #expect { try await client.check(Array("Subject: x\r\n\r\n".utf8)) } throws: { error in
                (error as? DaemonError)?.code == .timedOut
            }
        }
    }

    @Test func cancellingTheTaskEndsTheExchangeAtOnce() async throws {
        try await FakeDaemon.withRunning(answer: { _ in .silence }) { spamd in
            // The client's own timeout is an hour: only cancellation can end this exchange.
            let client = SpamdClient(address: spamd.address, limits: DaemonLimits(timeout: .seconds(3600)))
            let exchange = Task { try await client.check(Array("Subject: x\r\n\r\n".utf8)) }
            while spamd.received.isEmpty {
                try await Task.sleep(for: .milliseconds(10))
            }
            exchange.cancel()
            await #expect(throws: CancellationError.self) { try await exchange.value }
        }
    }

    @Test func aMalformedAnswerIsAnError() async throws {
        try await withSpamd(answering: "HELLO THERE\r\n") { spamd in
            await #expect { try await processor(spamd).process(.fixture(), verdict: Verdict()) } throws: { error in
                (error as? DaemonError)?.code == .invalidResponse
            }
        }
    }

    @Test func anOversizedAnswerIsRefused() async throws {
        let huge = "SPAMD/1.1 0 EX_OK\r\nSpam: True ; 1 / 5\r\n\r\n" + String(repeating: "X", count: 4096)
        try await withSpamd(answering: huge) { spamd in
            let client = SpamdClient(address: spamd.address, limits: DaemonLimits(maxResponseBytes: 1024))
            await #expect { try await client.check([]) } throws: { error in (error as? DaemonError)?.code == .invalidResponse }
        }
    }

    @Test(arguments: [
        SpamAssassin.Options(address: "localhost"), .init(address: "host:99999"), .init(address: ":783"), .init(action: "drop"),
        .init(maxSize: 0), .init(user: "two words"), .init(connectTimeout: 0),
    ])
    func invalidOptionsAreRefused(options: SpamAssassin.Options) {
        #expect(throws: ProcessorConfigurationError.self) { try SpamAssassin(options: options) }
    }

    @Test func defaultsAreSpamdsAndSpamcs() throws {
        let spamassassin = try SpamAssassin(options: .init())
        #expect(spamassassin.client.address == .tcp(host: "127.0.0.1", port: 783))
        #expect(spamassassin.client.limits.connectTimeout == .seconds(5))
    }
}
