import FilterCore
import FilterQuarantine
import Foundation
import Testing

/// `filterctl quarantine` against a running `filterd server` (through its control socket),
/// and reading the store directly when no server runs. Entries are made with
/// `QuarantineStore.add` in the test process, on the server's own store.
@Suite("filterctl quarantine", .enabled(if: Repository.integrationEnabled))
struct FilterctlQuarantineTests {
    /// Quarantines a message for `recipient` in the server's store.
    @discardableResult
    private func quarantine(
        _ store: QuarantineStore, id: String, recipient: String, subject: String, at time: Date = Date()
    ) async throws -> QuarantineEntry {
        let message = "From: sender@example.test\r\nTo: \(recipient)\r\nSubject: \(subject)\r\n\r\nHeld for a while.\r\n"
        return try await store.add(
            id: id,
            envelope: Envelope(
                mailFrom: "sender@example.test", recipients: [EnvelopeRecipient(address: recipient)],
                client: ClientInfo(name: "origin.example.test", address: "192.0.2.44")),
            queueID: "Q\(id)", owner: recipient, action: .quarantine, reason: "held by a test rule", receivedAt: time,
            message: Array(message.utf8), quarantinedAt: time)
    }

    @Test("with the server running: list, show, release to the next hop, delete")
    func throughTheServer() async throws {
        let sink = try await SMTPSink()
        do {
            try await FilterdProcess.withRunning(nextHopPort: sink.port) { filterd in
                let store = try QuarantineStore(directory: filterd.spoolDirectory.path + "/quarantine")
                try await quarantine(store, id: "HOLD1.0", recipient: "ivan@example.test", subject: "held one", at: Date().addingTimeInterval(-7200))
                try await quarantine(store, id: "HOLD2.0", recipient: "judy@example.test", subject: "held two")

                let listing = try await filterd.filterctlQuarantine(["list"]).requireSuccess().standardOutput
                let lines = listing.split(separator: "\n").map(String.init)
                #expect(lines.first?.hasPrefix("HOLD1.0 ") == true)
                #expect(lines.dropFirst().first?.hasPrefix("HOLD2.0 ") == true)
                #expect(lines.first?.contains("quarantine <sender@example.test> <ivan@example.test>") == true)
                #expect(lines.first?.hasSuffix("held by a test rule") == true)
                #expect(listing.contains("2 entries in the quarantine"))
                let ivans = try await filterd.filterctlQuarantine(["list", "--recipient", "ivan@example.test"]).requireSuccess()
                #expect(ivans.standardOutput.contains("HOLD1.0"))
                #expect(!ivans.standardOutput.contains("HOLD2.0"))
                let recent = try await filterd.filterctlQuarantine(["list", "--since", "1h"]).requireSuccess()
                #expect(!recent.standardOutput.contains("HOLD1.0"))
                #expect(recent.standardOutput.contains("HOLD2.0"))
                let badSince = try await filterd.filterctlQuarantine(["list", "--since", "yesterday"])
                #expect(!badSince.succeeded)

                let details = try await filterd.filterctlQuarantine(["show", "HOLD1.0"]).requireSuccess().standardOutput
                #expect(details.contains("id: HOLD1.0"))
                #expect(details.contains("recipient: <ivan@example.test>"))
                #expect(details.contains("reason: held by a test rule"))
                #expect(details.contains("client: origin.example.test[192.0.2.44]"))
                #expect(details.contains("Subject: held one"))

                let released = try await filterd.filterctlQuarantine(["release", "HOLD1.0"]).requireSuccess()
                #expect(released.standardOutput.contains("HOLD1.0 released to <ivan@example.test>"))
                let arrived = try await sink.waitForMessages(count: 1, timeout: .seconds(20))
                #expect(arrived.first?.headerValue("Subject") == "held one")
                #expect(arrived.first?.headerValue("X-Rcpt-Args")?.hasPrefix("<ivan@example.test>") == true)
                #expect(arrived.first?.headerValue("X-Mail-Args")?.hasPrefix("<sender@example.test>") == true)
                let releaseLog = try await filterd.waitForLog(containing: "Released from the quarantine by the operator")
                #expect(releaseLog.contains("quarantine.id=HOLD1.0"))
                try await filterd.waitForEmptySpool(timeout: .seconds(20))

                let missing = try await filterd.filterctlQuarantine(["release", "HOLD1.0"])
                #expect(!missing.succeeded)
                #expect((missing.standardOutput + missing.standardError).contains("no such entry"))

                try await filterd.filterctlQuarantine(["delete", "HOLD2.0"]).requireSuccess()
                let deleteLog = try await filterd.waitForLog(containing: "Deleted from the quarantine by the operator")
                #expect(deleteLog.contains("quarantine.id=HOLD2.0"))
                let after = try await filterd.filterctlQuarantine(["list"]).requireSuccess().standardOutput
                #expect(after.contains("0 entries in the quarantine"))
                #expect(try sink.messages().count == 1, "a deleted entry is not delivered")
            }
        } catch {
            await sink.stop()
            throw error
        }
        await sink.stop()
    }

    @Test("with no server running: list and show read the store; release and delete refuse")
    func withoutAServer() async throws {
        let filterd = try await FilterdProcess(nextHopPort: try freePort())
        do {
            let stopped = await filterd.stop()
            #expect(stopped.exitStatus == 0, "filterd log:\n\(stopped.standardError)")
            let store = try QuarantineStore(directory: filterd.spoolDirectory.path + "/quarantine")
            try await quarantine(store, id: "OFF.0", recipient: "ivan@example.test", subject: "offline")

            let listing = try await filterd.filterctlQuarantine(["list"]).requireSuccess().standardOutput
            #expect(listing.split(separator: "\n").first?.hasPrefix("OFF.0 ") == true)
            #expect(listing.contains("1 entry in the quarantine"))
            let details = try await filterd.filterctlQuarantine(["show", "OFF.0"]).requireSuccess().standardOutput
            #expect(details.contains("Subject: offline"))

            for command in ["release", "delete"] {
                let refused = try await filterd.filterctlQuarantine([command, "OFF.0"])
                #expect(!refused.succeeded)
                #expect(refused.standardError.contains("\(command) goes through the running server"))
            }
            #expect(try await store.entry("OFF.0") != nil, "nothing changed without the server")
        } catch {
            let log = filterd.log
            await filterd.stopAndRemoveFiles()
            throw HarnessError(code: .processFailed, message: "\(error)\nfilterd log:\n\(log)")
        }
        await filterd.stopAndRemoveFiles()
    }
}
