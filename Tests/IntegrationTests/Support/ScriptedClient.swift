import Foundation

/// A test-only client for several owners at once (`Support/scripted_client.py`, pika) that
/// answers every request with the reply its script gives, hostile replies included, and
/// records every request it gets. Stop it with `stop()`; prefer `withRunning`.
final class ScriptedClient: Sendable {
    /// One reply body, without `version` and `id` (the client fills them in). Every field is
    /// sent as given, unchecked: this is how tests put hostile replies on the wire.
    struct Reply: Codable, Sendable {
        /// `action`.
        var action: String
        /// `reason`.
        var reason: String?
        /// `forward`.
        var forward: [String]?
        /// `addHeaders`.
        var addHeaders: [HeaderField]?
        /// `subjectTag`.
        var subjectTag: String?
        /// `score`.
        var score: Double?
        /// `tags`.
        var tags: [String]?
        /// `retryAfter`, in seconds.
        var retryAfter: Int?
    }

    /// One `addHeaders` entry.
    struct HeaderField: Codable, Sendable {
        /// `name`.
        var name: String
        /// `value`.
        var value: String
    }

    /// The replies of one owner to messages whose Subject contains `subject`: the n-th
    /// question with one request id gets `replies[n]` (the last one once they run out).
    struct Rule: Codable, Sendable {
        /// The owner address.
        var owner: String
        /// A substring of the Subject; empty matches every message.
        var subject: String
        /// The replies, in the order of the questions.
        var replies: [Reply]
    }

    /// One request as the client received it.
    struct Request: Codable, Sendable, Equatable {
        /// The owner whose queue it came from.
        var owner: String
        /// The request id (`correlation_id`).
        var id: String
        /// The message's Subject.
        var subject: String
        /// Whether the broker had delivered it before (AMQP `redelivered`).
        var redelivered: Bool
    }

    private struct Script: Codable {
        var rules: [Rule]
    }

    /// The running process.
    let process: RunningProcess
    private let root: URL
    private let requestsFile: URL

    private init(process: RunningProcess, root: URL, requestsFile: URL) {
        self.process = process
        self.root = root
        self.requestsFile = requestsFile
    }

    /// Starts the client for `owners` with `rules` and waits until it consumes every owner's
    /// queue.
    /// - Parameters:
    ///   - broker: The node.
    ///   - owners: The owners' broker users (from `BrokerFixture.addOwner`).
    ///   - rules: The script; the first matching rule applies, `pass` without one.
    /// - Returns: The running client.
    /// - Throws: `HarnessError` if it does not consume in time (with its log).
    static func start(broker: BrokerNode, owners: [BrokerNode.Credentials], rules: [Rule]) async throws -> ScriptedClient {
        let root = try Repository.makeTemporaryDirectory(prefix: "scripted-client")
        let scriptFile = root.appendingPathComponent("script.json")
        let requestsFile = root.appendingPathComponent("requests.jsonl")
        try JSONEncoder().encode(Script(rules: rules)).write(to: scriptFile)
        try Data().write(to: requestsFile)
        let python = FileManager.default.isExecutableFile(atPath: "/usr/bin/python3") ? "/usr/bin/python3" : "python3"
        let process = try RunningProcess(
            executable: python,
            arguments: [
                Repository.root.appendingPathComponent("Tests/IntegrationTests/Support/scripted_client.py").path,
                "--script", scriptFile.path, "--requests", requestsFile.path,
            ] + owners.flatMap { ["--owner", broker.amqpURL(user: $0.user), $0.passwordFile.path] }
        )
        let client = ScriptedClient(process: process, root: root, requestsFile: requestsFile)
        do {
            for owner in owners {
                try await broker.waitForConsumers(of: owner.user, count: 1)
            }
        } catch {
            let result = await client.stop()
            throw HarnessError(code: .timedOut, message: "\(error)\nscripted client log:\n\(result.standardError)")
        }
        return client
    }

    /// Runs `body` with a started client, then stops it (also when `body` throws, whose error
    /// then carries the client's log).
    /// - Parameters:
    ///   - broker: The node.
    ///   - owners: The owners' broker users.
    ///   - rules: The script.
    ///   - body: The test.
    /// - Returns: What `body` returns.
    /// - Throws: What starting or `body` throws.
    static func withRunning<Result>(
        broker: BrokerNode, owners: [BrokerNode.Credentials], rules: [Rule], _ body: (ScriptedClient) async throws -> Result
    ) async throws -> Result {
        let client = try await start(broker: broker, owners: owners, rules: rules)
        do {
            let result = try await body(client)
            await client.stop()
            return result
        } catch {
            let log = await client.stop().standardError
            throw HarnessError(code: .processFailed, message: "\(error)\nscripted client log:\n\(log)")
        }
    }

    /// Every request received so far, in order.
    /// - Throws: Whatever reading or decoding the record throws.
    func requests() throws -> [Request] {
        let text = String(decoding: try Data(contentsOf: requestsFile), as: UTF8.self)
        return try text.split(separator: "\n").map { try JSONDecoder().decode(Request.self, from: Data($0.utf8)) }
    }

    /// The requests received so far for `owner` about messages whose Subject contains `subject`
    /// (any Subject when it is empty).
    /// - Throws: Whatever reading the record throws.
    func requests(owner: String, subject: String) throws -> [Request] {
        try requests().filter { $0.owner == owner && (subject.isEmpty || $0.subject.contains(subject)) }
    }

    /// Stops the client (SIGTERM, SIGKILL after 5 s) and deletes its files (kept with
    /// `FILTER_KEEP_ARTIFACTS=1`).
    @discardableResult
    func stop() async -> ProcessResult {
        let result = await process.stop()
        if !Repository.keepArtifacts {
            try? FileManager.default.removeItem(at: root)
        }
        return result
    }
}
