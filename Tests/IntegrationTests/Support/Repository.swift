import Foundation

/// Paths inside this repository, found from this source file's location so tests
/// work from any working directory.
enum Repository {
    /// The repository root (the directory holding Package.swift).
    static let root: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent()  // Support
        .deletingLastPathComponent()  // IntegrationTests
        .deletingLastPathComponent()  // Tests
        .deletingLastPathComponent()

    /// The `scripts/` directory.
    static let scripts: URL = root.appendingPathComponent("scripts")

    /// Whether integration tests run: `FILTER_INTEGRATION=1`, which `scripts/test.sh`
    /// (and so `.ci/run`) exports. Use as `@Suite(.enabled(if: Repository.integrationEnabled))`.
    static let integrationEnabled: Bool =
        ProcessInfo.processInfo.environment["FILTER_INTEGRATION"] == "1"

    /// Whether to keep temporary instance directories after a test
    /// (`FILTER_KEEP_ARTIFACTS=1`), for looking at logs and queues by hand.
    static let keepArtifacts: Bool =
        ProcessInfo.processInfo.environment["FILTER_KEEP_ARTIFACTS"] == "1"

    /// Creates a fresh directory under the system temporary directory, readable and
    /// traversable by everyone because Postfix and the delivery user must reach it.
    /// - Parameter prefix: The start of the directory name.
    /// - Throws: Whatever `FileManager` throws when creating it.
    static func makeTemporaryDirectory(prefix: String) throws -> URL {
        let directory = URL(fileURLWithPath: "/tmp")
            .appendingPathComponent("\(prefix)-\(UUID().uuidString.prefix(8).lowercased())")
        try FileManager.default.createDirectory(
            at: directory,
            withIntermediateDirectories: true,
            attributes: [.posixPermissions: 0o755]
        )
        return directory
    }
}
