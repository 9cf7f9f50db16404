import Foundation
import Testing

/// The server console in a real browser: headless Chromium from Debian's packages, driven by
/// Support/browser_walkthrough.py through Selenium, against `filterd all-in-one` between two
/// halves of a private Postfix. Screenshots of every step are kept in
/// `test-artifacts/browser/`.
@Suite("Server console in headless Chromium", .enabled(if: Repository.integrationEnabled), .serialized)
struct ConsoleBrowserTests {
    static let recipient = "alice@example.test"
    static let screenshots = Repository.root.appendingPathComponent("test-artifacts/browser")

    @Test("log in, see a message arrive live, a hostile subject stays inert, release from quarantine", .timeLimit(.minutes(5)))
    func walkthrough() async throws {
        try await PostfixInstance.withRunningInstance { postfix in
            let root = try Repository.makeTemporaryDirectory(prefix: "filterd-browser")
            defer { if !Repository.keepArtifacts { try? FileManager.default.removeItem(at: root) } }
            let password = "correct horse battery staple"
            let passwordFile = root.appendingPathComponent("admin-password")
            try password.write(to: passwordFile, atomically: true, encoding: .utf8)
            let hash = try await ProcessRunner.run(
                try BuiltProducts.path("filterctl"), ["web", "hash-password"], standardInput: Data((password + "\n").utf8)
            ).requireSuccess().standardOutput.trimmingCharacters(in: .whitespacesAndNewlines)
            let adminsFile = root.appendingPathComponent("admins")
            try "admin:\(hash)\n".write(to: adminsFile, atomically: true, encoding: .utf8)

            let webPort = try freePort()
            let configuration = root.appendingPathComponent("filterd.yaml")
            try """
            listen: 127.0.0.1:\(postfix.filterPort)
            next_hop: 127.0.0.1:\(postfix.reinjectPort)
            spool: \(root.appendingPathComponent("spool").path)
            hostname: filterd.browser.test
            web:
              listen: 127.0.0.1:\(webPort)
              admins_file: \(adminsFile.path)
            clients:
              - address: \(Self.recipient)
                pipeline:
                  - type: rules
                    rules:
                      - name: hold
                        if: {header: Subject, contains: hold me}
                        then: {action: quarantine, reason: held for the browser test}
            """.write(to: configuration, atomically: true, encoding: .utf8)
            let filterd = try RunningProcess(
                executable: try BuiltProducts.path("filterd"), arguments: ["all-in-one", "--config", configuration.path])
            do {
                try await waitUntilListening(port: webPort, timeout: .seconds(30))
                try await waitUntilListening(port: postfix.filterPort, timeout: .seconds(30))
                let metricsBefore = try await MetricsScrape.fetch(port: webPort)
                // Screenshots of an earlier run must not stand in for this run's.
                try? FileManager.default.removeItem(at: Self.screenshots)
                try FileManager.default.createDirectory(at: Self.screenshots, withIntermediateDirectories: true)
                let walk = try await ProcessRunner.run(
                    "/usr/bin/python3",
                    [
                        Repository.root.appendingPathComponent("Tests/IntegrationTests/Support/browser_walkthrough.py").path,
                        "--base", "http://127.0.0.1:\(webPort)", "--user", "admin", "--password-file", passwordFile.path,
                        "--smtp-port", String(postfix.smtpPort), "--recipient", Self.recipient,
                        "--screenshots", Self.screenshots.path,
                    ],
                    timeout: .seconds(240))
                #expect(walk.exitStatus == 0, "\(walk.standardError)")
                let seen = try JSONSerialization.jsonObject(with: Data(walk.standardOutput.utf8)) as? [String: Any] ?? [:]
                #expect(seen["redirected_to_login"] as? Bool == true)
                #expect((seen["live_row"] as? String)?.contains("Hello, live console") == true)
                #expect((seen["hostile_row"] as? String)?.contains("<script>") == true)
                #expect(seen["quarantine_id"] as? String != nil)

                // The live message went through; the released one follows it into the Maildir.
                let delivered = try await postfix.waitForMaildir(user: "alice", count: 2, timeout: .seconds(60))
                let subjects = delivered.map { $0.headerValue("Subject") ?? "" }
                #expect(subjects.contains("Hello, live console"))
                #expect(subjects.contains { $0.contains("hold me") })
                // What an operator's curl sees on /metrics moved with the two messages.
                let metricsAfter = try await MetricsScrape.fetch(port: webPort)
                let accepted = "filterd_messages_accepted_total"
                #expect(MetricsScrape.sum(metricsAfter, accepted) >= MetricsScrape.sum(metricsBefore, accepted) + 2, "\(metricsAfter)")
                let quarantined = ["filterd_decisions_total", "action=\"quarantine\""]
                #expect(MetricsScrape.sum(metricsAfter, quarantined[0], quarantined[1]) == MetricsScrape.sum(metricsBefore, quarantined[0], quarantined[1]) + 1)
                for step in ["1-logged-in", "2-live-message", "3-quarantine", "4-released"] {
                    #expect(FileManager.default.fileExists(atPath: Self.screenshots.appendingPathComponent("\(step).png").path))
                }
                _ = await filterd.stop()
            } catch {
                let result = await filterd.stop()
                throw HarnessError(code: .processFailed, message: "\(error)\nfilterd log:\n\(result.standardError)")
            }
        }
    }
}
