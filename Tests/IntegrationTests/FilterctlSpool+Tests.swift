import Foundation
import Testing

/// `filterctl spool` against a running `filterd server` (through its control socket) and
/// against the spool files when no server runs.
@Suite("filterctl spool", .enabled(if: Repository.integrationEnabled))
struct FilterctlSpoolTests {
    /// Retry timing under which nothing is retried during a test: only `filterctl spool retry`
    /// can explain a prompt delivery.
    static let slowRetries = FilterdProcess.Delivery(minBackoff: 300, maxBackoff: 300)

    /// Sends one message to filterd and waits until its first attempt deferred it.
    /// - Returns: Its queue id.
    private func spoolDeferredMessage(
        _ filterd: FilterdProcess, subject: String, to: [String] = ["ivan@example.test"]
    ) async throws -> String {
        let result = try await Swaks.send(
            port: filterd.listenPort, from: "sender@example.test", to: to, subject: subject
        ).requireSuccess()
        let id = try #require(queuedID(in: result.standardOutput), "no queue id in:\n\(result.standardOutput)")
        try await waitForListing(filterd, timeout: .seconds(20)) { listing in
            listing.split(separator: "\n").contains { $0.hasPrefix(id) && $0.contains(":deferred") }
        }
        return id
    }

    @Test("with the server running and the next hop down, list and show describe the deferred message")
    func listAndShow() async throws {
        try await FilterdProcess.withRunning(nextHopPort: try freePort(), delivery: Self.slowRetries) { filterd in
            let subject = "listed \(UUID().uuidString)"
            let id = try await spoolDeferredMessage(
                filterd, subject: subject, to: ["ivan@example.test", "judy@example.test"])

            let listing = try await filterd.filterctl(["list"]).requireSuccess().standardOutput
            let line = try #require(listing.split(separator: "\n").first { $0.hasPrefix(id) })
            let words = line.split(separator: " ").map(String.init)
            #expect(words.first == id)
            #expect(words.contains("<sender@example.test>"))
            #expect(words.contains("<ivan@example.test>:deferred"))
            #expect(words.contains("<judy@example.test>:deferred"))
            #expect(listing.contains("1 message(s) in the spool"))

            let details = try await filterd.filterctl(["show", id]).requireSuccess().standardOutput
            #expect(details.contains("queue id: \(id)"))
            #expect(details.contains("sender: <sender@example.test>"))
            #expect(details.contains("recipient: <ivan@example.test> deferred"))
            #expect(details.contains("recipient: <judy@example.test> deferred"))
            #expect(details.contains("Subject: \(subject)"))
            #expect(details.contains("Received: from swaks.example.test"))
        }
    }

    @Test("with the server running, delete removes the message through the control socket")
    func deleteThroughServer() async throws {
        try await FilterdProcess.withRunning(nextHopPort: try freePort(), delivery: Self.slowRetries) { filterd in
            let id = try await spoolDeferredMessage(filterd, subject: "to delete")

            let result = try await filterd.filterctl(["delete", id]).requireSuccess()
            #expect(!result.standardOutput.contains("no server was running"))
            let line = try await filterd.waitForLog(containing: "Deleted by the operator", timeout: .seconds(5))
            #expect(line.contains("mail.queue.id=\(id)"))
            let listing = try await filterd.filterctl(["list"]).requireSuccess().standardOutput
            #expect(!listing.contains(id))
            #expect(listing.contains("0 message(s) in the spool"))
        }
    }

    @Test("with the server running, retry delivers a deferred message at once when the next hop is back")
    func retryThroughServer() async throws {
        let nextHopPort = try freePort()
        try await FilterdProcess.withRunning(nextHopPort: nextHopPort, delivery: Self.slowRetries) { filterd in
            let id = try await spoolDeferredMessage(filterd, subject: "to retry")
            let sink = try await SMTPSink(port: nextHopPort)
            do {
                try await filterd.filterctl(["retry", id]).requireSuccess()
                _ = try await sink.waitForMessages(count: 1, timeout: .seconds(10))
                // smtp-sink completes its file before its 250, after which filterd empties its spool.
                try await filterd.waitForEmptySpool(timeout: .seconds(10))
                #expect(try sink.messages().first?.headerValue("Subject") == "to retry")
            } catch {
                await sink.stop()
                throw error
            }
            await sink.stop()
        }
    }

    @Test("with no server running, list and delete work on the spool files")
    func offlineListAndDelete() async throws {
        let filterd = try await FilterdProcess(nextHopPort: try freePort(), delivery: Self.slowRetries)
        do {
            let id = try await spoolDeferredMessage(filterd, subject: "offline")
            let stopped = await filterd.stop()
            #expect(stopped.exitStatus == 0)

            let listing = try await filterd.filterctl(["list"]).requireSuccess().standardOutput
            let line = try #require(listing.split(separator: "\n").first { $0.hasPrefix(id) })
            #expect(line.contains("<ivan@example.test>:deferred"))
            #expect(listing.contains("1 message(s) in the spool"))

            let deleted = try await filterd.filterctl(["delete", id]).requireSuccess()
            #expect(deleted.standardOutput.contains("no server was running"))
            let after = try await filterd.filterctl(["list"]).requireSuccess().standardOutput
            #expect(!after.contains(id))
            #expect(after.contains("0 message(s) in the spool"))
        } catch {
            let log = filterd.log
            await filterd.stopAndRemoveFiles()
            throw HarnessError(code: .processFailed, message: "\(error)\nfilterd log:\n\(log)")
        }
        await filterd.stopAndRemoveFiles()
    }
}
