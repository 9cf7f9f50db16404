import Foundation
import NIOCore
import Testing

@testable import FilterCore

/// Commits per second of 20 concurrent writers, with and without group commit. Prints figures
/// and asserts nothing about timing. Disk-heavy, so it runs only when asked:
/// `SPOOL_BENCHMARK=1 swift test --filter SpoolBenchmarkTests`.
@Suite(.enabled(if: ProcessInfo.processInfo.environment["SPOOL_BENCHMARK"] != nil), .serialized)
struct SpoolBenchmarkTests {
    static let writers = 20
    static let commitsPerWriter = 25
    static let messageSize = 4096

    struct Variant: CustomTestStringConvertible, Sendable {
        var name: String
        var maximumBatchSize: Int
        var syncMethod: SpoolConfiguration.SyncMethod
        var testDescription: String { name }
    }

    @Test(arguments: [
        Variant(name: "one sync round per message", maximumBatchSize: 1, syncMethod: .fsyncEachFile),
        Variant(name: "group commit, fsync each file", maximumBatchSize: 256, syncMethod: .fsyncEachFile),
        Variant(name: "group commit, syncfs", maximumBatchSize: 256, syncMethod: .syncFileSystem),
    ])
    func concurrentCommitRate(_ variant: Variant) async throws {
        let temporary = try TemporarySpool()
        defer { temporary.remove() }
        let spool = try temporary.open(maximumBatchSize: variant.maximumBatchSize, syncMethod: variant.syncMethod)
        let body = String(repeating: "x", count: Self.messageSize - 2) + "\r\n"
        let clock = ContinuousClock()
        let elapsed = try await clock.measure {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<Self.writers {
                    group.addTask {
                        for _ in 0..<Self.commitsPerWriter {
                            _ = try await commitMessage(body, in: spool)
                        }
                    }
                }
                try await group.waitForAll()
            }
        }
        let statistics = await spool.statistics()
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        let rate = Double(statistics.commits) / seconds
        print(
            "spool benchmark: \(variant.name): \(statistics.commits) commits in \(String(format: "%.2f", seconds)) s"
                + " = \(Int(rate)) commits/s, \(statistics.syncBatches) sync batches"
                + " (avg \(String(format: "%.1f", Double(statistics.commits) / Double(statistics.syncBatches))) per batch)"
        )
        #expect(statistics.commits == Self.writers * Self.commitsPerWriter)
    }
}
