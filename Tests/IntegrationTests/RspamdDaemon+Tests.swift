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

    @Test("a pipeline from configuration: sender list, spamd, clamd and rspamd in order")
    func configuredPipeline() async throws {
        for instance in [ScannerInstance.spamd, .clamd, .rspamd] {
            try await instance.start()
        }
        let json = """
            [{"type": "sender-list", "block": ["@blocked.example"]},
             {"type": "clamav", "address": "\(ScannerInstance.clamd.socketAddress)"},
             {"type": "spamassassin", "address": "\(ScannerInstance.spamd.address)", "action": "continue"},
             {"type": "rspamd", "url": "http://127.0.0.1:\(ScannerInstance.rspamd.port)", "timeout": 20}]
            """
        let pipeline = try JSONDecoder().decode(PipelineConfiguration.self, from: Data(json.utf8)).makePipeline()
        let spam = await pipeline.run(ScanningMessages.request(ScanningMessages.spam))
        #expect(spam.trace.map(\.outcome) == ["continue", "continue", "continue", "deny"])
        #expect(spam.verdict.tags.contains("spam"))
        let virus = await pipeline.run(ScanningMessages.request(ScanningMessages.eicarAttachment))
        #expect(virus.decision == Decision(.virus, reason: "Filterd-Test-EICAR.UNOFFICIAL"))
        let ham = await pipeline.run(ScanningMessages.request(ScanningMessages.ham))
        #expect(ham.decision.action == .pass)
        #expect(ham.trace.map(\.outcome) == ["continue", "continue", "continue", "continue"])
    }
}
