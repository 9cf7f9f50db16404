import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// The private RabbitMQ node the broker tests run against, started once per test process by
/// `scripts/rabbitmq-instance.sh` under `test-artifacts/rabbitmq` (loopback only).
///
/// Broker tests run only with `FILTER_INTEGRATION=1` (which `scripts/test.sh` exports); use
/// `@Suite(.enabled(if: TestBroker.enabled))`.
enum TestBroker {
    /// Whether broker tests run.
    static let enabled: Bool = ProcessInfo.processInfo.environment["FILTER_INTEGRATION"] == "1"

    /// The repository root (the directory holding Package.swift).
    static let repositoryRoot: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent()  // Support
        .deletingLastPathComponent()  // FilterQueueTests
        .deletingLastPathComponent()  // Tests
        .deletingLastPathComponent()

    /// Where the node keeps its data, logs and administrator password: `FILTER_RABBITMQ_DIR`,
    /// or `test-artifacts/rabbitmq` in the repository. Checkouts side by side that share one
    /// node (same ports) must share this directory too, since it holds the node's cookie.
    static let directory: URL = ProcessInfo.processInfo.environment["FILTER_RABBITMQ_DIR"]
        .map { URL(fileURLWithPath: $0) } ?? repositoryRoot.appendingPathComponent("test-artifacts/rabbitmq")

    /// The AMQP port (`FILTER_RABBITMQ_PORT`, default 15682).
    static let amqpPort: Int = Int(ProcessInfo.processInfo.environment["FILTER_RABBITMQ_PORT"] ?? "") ?? 15682

    /// The management HTTP port (`FILTER_RABBITMQ_MANAGEMENT_PORT`, default 15683).
    static let managementPort: Int =
        Int(ProcessInfo.processInfo.environment["FILTER_RABBITMQ_MANAGEMENT_PORT"] ?? "") ?? 15683

    /// The administrator the script creates.
    static let adminUser = "filteradmin"

    /// Starts the node if it is not running yet and returns the administrator's password.
    /// Safe to call from every test: the first call starts the node, later calls reuse it.
    static func start() async throws -> String {
        try await started.value
    }

    /// Runs `rabbitmqctl` against the node with `arguments` and returns what it printed.
    @discardableResult
    static func ctl(_ arguments: [String]) throws -> String {
        try runScript(["ctl", directory.path] + arguments)
    }

    private static let started = Task<String, any Error> {
        try runScript(["start", directory.path])
        return try String(contentsOf: directory.appendingPathComponent("admin-password"), encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Runs `scripts/rabbitmq-instance.sh` with `arguments`, `environment` added to this
    /// process's (the settings of a node other than the shared one).
    @discardableResult
    static func runScript(_ arguments: [String], environment: [String: String] = [:]) throws -> String {
        try run(repositoryRoot.appendingPathComponent("scripts/rabbitmq-instance.sh"), arguments, environment: environment)
    }

    /// Runs a program to its end and returns what it printed.
    ///
    /// Spawned with `posix_spawn` and reaped with `waitpid`, output through files: with
    /// `Foundation.Process`, waiting for the script that starts the broker never returned on a
    /// fresh machine, since the detached broker it leaves behind inherits what Foundation
    /// watches to learn that its child ended.
    /// - Parameter environment: Added to this process's environment.
    /// - Throws: ``TestBrokerError`` with its standard error when it exits non-zero.
    @discardableResult
    static func run(_ executable: URL, _ arguments: [String], environment: [String: String] = [:]) throws -> String {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("test-broker-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let outputPath = directory.appendingPathComponent("stdout").path
        let errorPath = directory.appendingPathComponent("stderr").path
        var fileActions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&fileActions)
        defer { posix_spawn_file_actions_destroy(&fileActions) }
        posix_spawn_file_actions_addopen(&fileActions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&fileActions, 1, outputPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_addopen(&fileActions, 2, errorPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        let argv = ([executable.path] + arguments).map { strdup($0) } + [nil]
        let merged = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let envp = merged.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { (argv + envp).forEach { free($0) } }
        var child = pid_t()
        let spawned = posix_spawn(&child, executable.path, &fileActions, nil, argv, envp)
        guard spawned == 0 else {
            throw TestBrokerError("cannot start \(executable.path): \(String(cString: strerror(spawned)))")
        }
        var status: Int32 = 0
        while waitpid(child, &status, 0) == -1, errno == EINTR {}
        let printed = (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? ""
        let complaints = (try? String(contentsOfFile: errorPath, encoding: .utf8)) ?? ""
        // WIFEXITED and WEXITSTATUS are macros Swift does not import.
        let exitedNormally = status & 0x7f == 0
        guard exitedNormally, (status >> 8) & 0xff == 0 else {
            throw TestBrokerError(
                "\(executable.lastPathComponent) \(arguments.joined(separator: " ")) failed (wait status \(status)): \(complaints)")
        }
        return printed
    }
}

/// The test broker could not be started or controlled.
struct TestBrokerError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
