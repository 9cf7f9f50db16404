import FilterCore
import FilterProcessors
import Testing

/// The `clamav` processor against Debian's clamd with a locally written signature for EICAR
/// (`scripts/scanner-instance.sh`).
@Suite("ClamAV against clamd", .enabled(if: Repository.integrationEnabled))
struct ClamAVClamdTests {
    static let signature = "Filterd-Test-EICAR.UNOFFICIAL"

    func clamav(_ options: ClamAV.Options = .init(), unixSocket: Bool = false) async throws -> ClamAV {
        let clamd = ScannerInstance.clamd
        try await clamd.start()
        var options = options
        options.address = (unixSocket ? clamd.socketAddress : clamd.address).description
        return try ClamAV(options: options)
    }

    @Test("EICAR in a plain body is a virus, over TCP and over the unix socket", arguments: [false, true])
    func eicarInThePlainBody(unixSocket: Bool) async throws {
        let message = ScanningMessages.plain(subject: "test", body: ScanningMessages.eicar)
        let outcome = try await clamav(unixSocket: unixSocket).process(ScanningMessages.request(message), verdict: Verdict())
        #expect(outcome.decision == Decision(.virus, reason: Self.signature))
    }

    @Test("EICAR in a base64 attachment is a virus")
    func eicarInABase64Attachment() async throws {
        #expect(!ScanningMessages.eicarAttachment.contains(ScanningMessages.eicar))
        let outcome = try await clamav().process(ScanningMessages.request(ScanningMessages.eicarAttachment), verdict: Verdict())
        #expect(outcome.decision == Decision(.virus, reason: Self.signature))
    }

    @Test("a clean message continues; PING answers")
    func cleanMessageContinues() async throws {
        let processor = try await clamav()
        try await processor.client.ping()
        let outcome = try await processor.process(ScanningMessages.request(ScanningMessages.ham), verdict: Verdict())
        #expect(outcome == .continue(Verdict()))
    }

    @Test("past clamd's StreamMaxLength (1 MB here) the scan fails as messageTooLarge, and on_error decides")
    func pastStreamMaxLength() async throws {
        let body = String(repeating: String(repeating: "a", count: 76) + "\r\n", count: 20_000)
        let request = ScanningMessages.request(ScanningMessages.plain(subject: "big", body: body))
        let processor = try await clamav(.init(maxStreamBytes: 4 * 1024 * 1024))
        await #expect { try await processor.process(request, verdict: Verdict()) } throws: { error in
            (error as? DaemonError)?.code == .messageTooLarge
        }
        let result = await Pipeline(steps: [PipelineStep(processor, onError: .decide(.quarantine))]).run(request)
        #expect(result.decision.action == .quarantine)
    }
}
