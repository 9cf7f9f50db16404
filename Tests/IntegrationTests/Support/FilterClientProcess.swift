import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One owner's filter client as a child process: `filterd client` with a sender block list, or
/// the Python example client (`Examples/python/mailfilter_client.py`), logged in as the owner's
/// broker user with the password from a file. Stop it with `stop()` (also after `pause()`).
final class FilterClientProcess: Sendable {
    /// The owner whose queue it consumes.
    let owner: String
    /// The running process.
    let process: RunningProcess

    private let root: URL

    private init(owner: String, process: RunningProcess, root: URL) {
        self.owner = owner
        self.process = process
        self.root = root
    }

    /// Starts `filterd client` for `credentials.user`, denying mail from `block` (passing
    /// everything when it is empty), and waits until it consumes the owner's queue.
    /// - Parameters:
    ///   - broker: The node.
    ///   - credentials: The owner's broker user (from `BrokerNode.addUser`).
    ///   - block: Senders (`@domain` or addresses) its `sender-list` denies.
    ///   - prefetch: `--prefetch`, if given.
    ///   - monitorPort: `--monitor 127.0.0.1:PORT` (the client monitor and `/metrics`), if given.
    /// - Returns: The running client.
    /// - Throws: `HarnessError` if it does not consume in time (with its log).
    static func swift(
        broker: BrokerNode, credentials: BrokerNode.Credentials, block: [String], prefetch: Int? = nil,
        monitorPort: UInt16? = nil
    ) async throws -> FilterClientProcess {
        let root = try Repository.makeTemporaryDirectory(prefix: "filterd-client")
        let configuration = root.appendingPathComponent("client.yaml")
        let quoted = block.map { "\"\($0)\"" }.joined(separator: ", ")
        // sender-list refuses an empty list; with nothing to block the pipeline is empty (pass).
        let pipeline = block.isEmpty ? "pipeline: []" : """
            pipeline:
              - type: sender-list
                block: [\(quoted)]
            """
        try pipeline.write(to: configuration, atomically: true, encoding: .utf8)
        let process = try RunningProcess(
            executable: try BuiltProducts.path("filterd"),
            arguments: [
                "client",
                "--amqp", broker.amqpURL(user: credentials.user),
                "--amqp-password-file", credentials.passwordFile.path,
                "--address", credentials.user,
                "--config", configuration.path,
                "--log-level", "debug",
            ] + (prefetch.map { ["--prefetch", String($0)] } ?? [])
                + (monitorPort.map { ["--monitor", "127.0.0.1:\($0)"] } ?? [])
        )
        return try await started(
            FilterClientProcess(owner: credentials.user, process: process, root: root), broker: broker)
    }

    /// Starts the Python example client for `credentials.user`, denying mail from `block`, and
    /// waits until it consumes the owner's queue.
    /// - Parameters:
    ///   - broker: The node.
    ///   - credentials: The owner's broker user.
    ///   - block: Its `--block` arguments.
    /// - Returns: The running client.
    /// - Throws: `HarnessError` if it does not consume in time (with its log).
    static func python(
        broker: BrokerNode, credentials: BrokerNode.Credentials, block: [String]
    ) async throws -> FilterClientProcess {
        let root = try Repository.makeTemporaryDirectory(prefix: "python-client")
        // Debian's interpreter, where python3-pika is installed (scripts/install-deps.sh).
        let python = FileManager.default.isExecutableFile(atPath: "/usr/bin/python3") ? "/usr/bin/python3" : "python3"
        let process = try RunningProcess(
            executable: python,
            arguments: [
                Repository.root.appendingPathComponent("Examples/python/mailfilter_client.py").path,
                "--amqp", broker.amqpURL(user: credentials.user),
                "--password-file", credentials.passwordFile.path,
            ] + block.flatMap { ["--block", $0] }
        )
        return try await started(
            FilterClientProcess(owner: credentials.user, process: process, root: root), broker: broker)
    }

    private static func started(_ client: FilterClientProcess, broker: BrokerNode) async throws -> FilterClientProcess {
        do {
            try await broker.waitForConsumers(of: client.owner, count: 1)
        } catch {
            let result = await client.process.stop()
            client.removeFiles()
            throw HarnessError(code: .timedOut, message: "\(error)\nclient log:\n\(result.standardError)")
        }
        return client
    }

    /// Runs `body` with a client that `start` starts, then stops it (also when `body`
    /// throws, whose error then carries the client's log).
    /// - Parameters:
    ///   - start: Starts the client, e.g. `{ try await .swift(broker: ..., credentials: ..., block: []) }`.
    ///   - body: The test.
    /// - Returns: What `body` returns.
    /// - Throws: What `start` or `body` throws.
    static func withRunning<Result>(
        _ start: () async throws -> FilterClientProcess, _ body: (FilterClientProcess) async throws -> Result
    ) async throws -> Result {
        let client = try await start()
        do {
            let result = try await body(client)
            await client.stop()
            return result
        } catch {
            let log = await client.stop().standardError
            throw HarnessError(code: .processFailed, message: "\(error)\nclient log of \(client.owner):\n\(log)")
        }
    }

    /// Everything the client logged so far (its standard error).
    var log: String { process.standardError }

    /// Log lines containing `text`.
    /// - Parameter text: The text to look for.
    func logLines(containing text: String) -> [String] {
        log.split(separator: "\n").filter { $0.contains(text) }.map(String.init)
    }

    /// SIGSTOP: the client stays connected and subscribed (its requests wait in its socket and
    /// its prefetch) but answers nothing: a hung client.
    func pause() {
        signal(SIGSTOP)
    }

    /// SIGCONT after `pause()`.
    func resume() {
        signal(SIGCONT)
    }

    /// SIGKILL: the client dies without closing its connection, its requests unacknowledged.
    /// - Returns: The result.
    @discardableResult
    func killAbruptly() async -> ProcessResult {
        signal(SIGKILL)
        return await process.stop()
    }

    /// Stops the client (SIGCONT in case it is paused, then SIGTERM, SIGKILL after 5 s) and
    /// deletes its files (kept with `FILTER_KEEP_ARTIFACTS=1`).
    @discardableResult
    func stop() async -> ProcessResult {
        resume()
        let result = await process.stop()
        removeFiles()
        return result
    }

    /// Signals the process only while it runs: once reaped, its pid may belong to another.
    private func signal(_ number: Int32) {
        if process.isRunning {
            kill(process.processIdentifier, number)
        }
    }

    private func removeFiles() {
        if !Repository.keepArtifacts {
            try? FileManager.default.removeItem(at: root)
        }
    }
}
