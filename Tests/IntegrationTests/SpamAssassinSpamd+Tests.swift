import FilterCore
import FilterProcessors
import Testing

/// The `spamassassin` processor against Debian's spamd (`scripts/scanner-instance.sh`).
@Suite("SpamAssassin against spamd", .enabled(if: Repository.integrationEnabled))
struct SpamAssassinSpamdTests {
    func spamassassin(_ options: SpamAssassin.Options = .init(), unixSocket: Bool = false) async throws -> SpamAssassin {
        let spamd = ScannerInstance.spamd
        try await spamd.start()
        var options = options
        options.address = (unixSocket ? spamd.socketAddress : spamd.address).description
        return try SpamAssassin(options: options)
    }

    @Test("GTUBE is spam, over TCP and over the unix socket", arguments: [false, true])
    func gtubeIsSpam(unixSocket: Bool) async throws {
        let processor = try await spamassassin(unixSocket: unixSocket)
        let outcome = try await processor.process(ScanningMessages.request(ScanningMessages.spam), verdict: Verdict())
        #expect(outcome.decision?.action == .spam)
        #expect((outcome.verdict.score ?? 0) >= 1000)
        #expect(outcome.verdict.tags.contains("GTUBE"))
        #expect(outcome.verdict.addHeaders.first { $0.name == "X-Spam-Status" }?.value.hasPrefix("Yes, score=1000") == true)
    }

    @Test("a clean message is ham")
    func cleanMessageIsHam() async throws {
        let outcome = try await spamassassin().process(ScanningMessages.request(ScanningMessages.ham), verdict: Verdict())
        #expect(outcome.decision == nil)
        #expect((outcome.verdict.score ?? 99) < 5)
        #expect(outcome.verdict.addHeaders.first { $0.name == "X-Spam-Status" }?.value.hasPrefix("No, score=") == true)
    }

    @Test("REPORT fills X-Spam-Report; PING answers")
    func reportAndPing() async throws {
        let processor = try await spamassassin(.init(report: true))
        try await processor.client.ping()
        let outcome = try await processor.process(ScanningMessages.request(ScanningMessages.spam), verdict: Verdict())
        #expect(outcome.verdict.tags.contains("GTUBE"))
        let report = outcome.verdict.addHeaders.first { $0.name == "X-Spam-Report" }?.value ?? ""
        #expect(report.contains("GTUBE BODY: Generic Test for Unsolicited Bulk Email"))
    }
}
