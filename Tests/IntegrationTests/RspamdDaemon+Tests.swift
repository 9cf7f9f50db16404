import FilterCore
import FilterProcessors
import Foundation
import Testing

/// The `rspamd` processor against Debian's rspamd with its network modules off
/// (`scripts/scanner-instance.sh`).
@Suite("rspamd against rspamd", .enabled(if: Repository.integrationEnabled))
struct RspamdDaemonTests {
    func rspamd(_ options: Rspamd.Options = .init()) async throws -> Rspamd {
        let instance = ScannerInstance.rspamd
        try await instance.start()
        var options = options
        options.url = "http://127.0.0.1:\(instance.port)"
        return try Rspamd(options: options)
    }

    @Test("GTUBE is rejected: deny")
    func gtubeIsDenied() async throws {
        let outcome = try await rspamd().process(ScanningMessages.request(ScanningMessages.spam), verdict: Verdict())
        #expect(outcome.decision?.action == .deny)
        #expect(outcome.decision?.reason?.hasPrefix("rspamd: reject") == true)
        #expect(outcome.verdict.tags.contains("GTUBE"))
    }

    @Test("a clean message has no action and continues with a score")
    func cleanMessageContinues() async throws {
        let outcome = try await rspamd().process(ScanningMessages.request(ScanningMessages.ham), verdict: Verdict())
        #expect(outcome.decision == nil)
        #expect(outcome.verdict.score != nil)
    }

    /// A pipeline of a sender list, clamd (unix socket), spamd (tagging only) and rspamd.
    func configuredPipeline() async throws -> Pipeline {
        for instance in [ScannerInstance.spamd, .clamd, .rspamd] {
            try await instance.start()
        }
        let json = """
            [{"type": "sender-list", "block": ["@blocked.example"]},
             {"type": "clamav", "address": "\(ScannerInstance.clamd.socketAddress)"},
             {"type": "spamassassin", "address": "\(ScannerInstance.spamd.address)", "action": "continue"},
             {"type": "rspamd", "url": "http://127.0.0.1:\(ScannerInstance.rspamd.port)", "timeout": 20}]
            """
        return try JSONDecoder().decode(PipelineConfiguration.self, from: Data(json.utf8)).makePipeline()
    }

    @Test("a pipeline from configuration: sender list, clamd, spamd and rspamd in order")
    func pipelineOfAllThree() async throws {
        let pipeline = try await configuredPipeline()
        let spam = await pipeline.run(ScanningMessages.request(ScanningMessages.spam))
        #expect(spam.trace.map(\.outcome) == ["continue", "continue", "continue", "deny"])
        #expect(spam.verdict.tags.contains("spam"))
        let virus = await pipeline.run(ScanningMessages.request(ScanningMessages.eicarAttachment))
        #expect(virus.decision == Decision(.virus, reason: "Filterd-Test-EICAR.UNOFFICIAL"))
        let ham = await pipeline.run(ScanningMessages.request(ScanningMessages.ham))
        #expect(ham.decision.action == .pass)
        #expect(ham.trace.map(\.outcome) == ["continue", "continue", "continue", "continue"])
    }

    @Test("a 400 KB message goes through all three daemons")
    func largeMessage() async throws {
        let pipeline = try await configuredPipeline()
        let body = String(repeating: "The quarterly figures are attached below as plain text.\r\n", count: 7000)
        let result = await pipeline.run(ScanningMessages.request(ScanningMessages.plain(subject: "Figures", body: body)))
        #expect(result.failures == [])
        #expect(result.trace.map(\.outcome) == ["continue", "continue", "continue", "continue"])
        #expect(result.verdict.addHeaders.contains { $0.name == "X-Spam-Status" })
    }
}
