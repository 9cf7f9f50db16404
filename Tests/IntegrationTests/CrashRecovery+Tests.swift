import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The durability promise end to end: `filterd server` is killed with SIGKILL in the middle of
/// a load and restarted on the same spool; every message it answered 250 must reach the next
/// hop. Duplicates are allowed (delivery is at-least-once) and reported, not failed.
@Suite("CrashRecovery", .enabled(if: Repository.integrationEnabled), .serialized)
struct CrashRecoveryTests {
    /// Messages the load tries to send.
    static let attempts = 2000
    /// Accepted messages after which filterd is killed.
    static let acceptedBeforeKill = 700

    @Test("SIGKILL under load, restart on the same spool: every accepted message arrives")
    func sigkillUnderLoadLosesNoAcceptedMessage() async throws {
        let started = ContinuousClock.now
        let sink = try await SMTPSink()
        let root = try Repository.makeTemporaryDirectory(prefix: "filterd-crash")
        let spool = root.appendingPathComponent("spool")
        let queue = spool.appendingPathComponent("queue")
        let port = try freePort()
        // One delivery worker, so that a backlog builds up in the spool and recovery has work;
        // quick retries, so that a delivery cut off by the kill is retried soon after the restart.
        let configuration = """
            log_level: warning
            delivery:
              concurrency: 1
              min_backoff: 0.5
              max_backoff: 1
            """
        var restarted: RunningProcess?
        do {
            let first = try await CrashFilterd.start(
                port: port, nextHopPort: sink.port, spool: spool, configuration: configuration)
            let load = try LoadGenerator(
                port: port, attempts: Self.attempts, connections: 16, messageSize: 2048, timeLimit: .seconds(80))

            let acceptedAtKill = try await load.waitForAccepted(atLeast: Self.acceptedBeforeKill, timeout: .seconds(60))
            kill(first.processIdentifier, SIGKILL)
            let killed = await first.stop(grace: .seconds(5))
            let spooledAtKill = try FileManager.default.contentsOfDirectory(atPath: queue.path)
                .filter { $0.hasSuffix(".env") }.count
            #expect(killed.exitStatus == 128 + SIGKILL, "filterd was not killed by SIGKILL: \(killed.standardError)")
            // Let the load run into refused connections for a moment, as after a real crash.
            try await Task.sleep(for: .milliseconds(300))
            let second = try await CrashFilterd.start(
                port: port, nextHopPort: sink.port, spool: spool, configuration: configuration)
            restarted = second

            let summary = try await load.waitForSummary(timeout: .seconds(90))
            let accepted = load.acceptedMessageIDs()
            #expect(summary.attempts == Self.attempts, "the load stopped early: \(summary)")
            #expect(accepted.count == summary.accepted)
            #expect(acceptedAtKill < accepted.count, "filterd was killed after the load had ended")

            var inventory = CrashSinkInventory(directory: sink.dumpDirectory)
            let deadline = ContinuousClock.now + .seconds(60)
            var missing = Set(accepted)
            var spoolEmpty = false
            while ContinuousClock.now < deadline {
                try inventory.refresh()
                missing.subtract(inventory.copiesByMessageID.keys)
                spoolEmpty = try FileManager.default.contentsOfDirectory(atPath: queue.path).isEmpty
                if missing.isEmpty, spoolEmpty { break }
                try await Task.sleep(for: .milliseconds(250))
            }
            _ = await second.stop()
            try inventory.refresh()

            let copies = inventory.copiesByMessageID
            let acceptedSet = Set(accepted)
            let duplicates = copies.filter { $0.value > 1 }
            let unacknowledged = copies.keys.filter { !acceptedSet.contains($0) }
            let movedAside = (try? FileManager.default.contentsOfDirectory(atPath: spool.appendingPathComponent("corrupt").path)) ?? []
            print(
                """
                CrashRecovery: attempts \(summary.attempts), accepted \(accepted.count) \
                (\(acceptedAtKill) before SIGKILL, \(spooledAtKill) in the spool at SIGKILL), refused \(summary.refused), broken off \(summary.errors), \
                connect failures \(summary.connectFailures); arrived \(copies.count) distinct \
                (\(copies.values.reduce(0, +)) copies), lost \(missing.count), \
                duplicates \(duplicates.count) (extra copies \(duplicates.values.reduce(0) { $0 + $1 - 1 })), \
                arrived without 250 \(unacknowledged.count), spool files moved aside \(movedAside.count), \
                spool empty \(spoolEmpty), \(ContinuousClock.now - started)
                """)
            #expect(missing.isEmpty, "accepted but never delivered: \(missing.sorted().prefix(20))")
            #expect(spoolEmpty, "the spool still holds messages after 60 s")
        } catch {
            _ = await restarted?.stop()
            await sink.stop()
            throw error
        }
        await sink.stop()
        if !Repository.keepArtifacts {
            try? FileManager.default.removeItem(at: root)
        }
    }
}
