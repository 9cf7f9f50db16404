import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A RabbitMQ node of `scripts/rabbitmq-instance.sh`, and the broker chores the integration tests
/// share: starting it, running `filterctl setup` and `filterctl user add|remove` against it, and
/// names unique to one test (the shared node serves every worktree and test process at once).
///
/// Passwords travel only through files (mode 0600) and the environment, never through argv.
struct BrokerNode: Sendable {
    /// Where the node keeps its data, logs and administrator password.
    let directory: URL
    /// The AMQP port on 127.0.0.1.
    let amqpPort: Int
    /// The management HTTP port on 127.0.0.1.
    let managementPort: Int
    /// The Erlang distribution port.
    let distributionPort: Int
    /// The Erlang node name (before `@localhost`).
    let nodeName: String
    /// RabbitMQ's TLS listener on 127.0.0.1 (`amqps://`), with a certificate for `localhost`
    /// from a CA made for the node (`rabbitmq-instance.sh tls`); `nil` for a plain node.
    let tlsPort: Int?

    /// The node every test shares: `FILTER_RABBITMQ_DIR` (default `test-artifacts/rabbitmq`),
    /// `FILTER_RABBITMQ_PORT` (15682), `FILTER_RABBITMQ_MANAGEMENT_PORT` (15683), as the
    /// FilterQueue tests' `TestBroker` finds it. Never stop or restart it in a test.
    static let shared: BrokerNode = {
        let environment = ProcessInfo.processInfo.environment
        return BrokerNode(
            directory: environment["FILTER_RABBITMQ_DIR"].map { URL(fileURLWithPath: $0) }
                ?? Repository.root.appendingPathComponent("test-artifacts/rabbitmq"),
            amqpPort: Int(environment["FILTER_RABBITMQ_PORT"] ?? "") ?? 15682,
            managementPort: Int(environment["FILTER_RABBITMQ_MANAGEMENT_PORT"] ?? "") ?? 15683,
            distributionPort: Int(environment["FILTER_RABBITMQ_DIST_PORT"] ?? "") ?? 15684,
            nodeName: environment["FILTER_RABBITMQ_NODENAME"] ?? "filterd-test",
            tlsPort: nil
        )
    }()

    /// A second node for tests that restart their broker, so that restarting it disturbs no
    /// other test: `FILTER_RABBITMQ_RESTART_DIR` (default `test-artifacts/rabbitmq-restart`),
    /// AMQP on `FILTER_RABBITMQ_RESTART_PORT` (default 15692), management and Erlang
    /// distribution on the next two ports, node `filterd-restart`.
    static let restartable: BrokerNode = {
        let environment = ProcessInfo.processInfo.environment
        let port = Int(environment["FILTER_RABBITMQ_RESTART_PORT"] ?? "") ?? 15692
        return BrokerNode(
            directory: environment["FILTER_RABBITMQ_RESTART_DIR"].map { URL(fileURLWithPath: $0) }
                ?? Repository.root.appendingPathComponent("test-artifacts/rabbitmq-restart"),
            amqpPort: port,
            managementPort: port + 1,
            distributionPort: port + 2,
            nodeName: "filterd-restart",
            tlsPort: nil
        )
    }()

    /// A node with RabbitMQ's TLS listener, for the `amqps://` tests: `FILTER_RABBITMQ_TLS_DIR`
    /// (default `test-artifacts/rabbitmq-tls`), AMQPS on `FILTER_RABBITMQ_TLS_PORT` (default
    /// 15711), AMQP, management and Erlang distribution on the next three ports, node
    /// `filterd-tls`. Started once per test process and stopped when the process ends (the
    /// FilterQueue TLS tests of the same process use it too).
    static let tls: BrokerNode = {
        let environment = ProcessInfo.processInfo.environment
        let port = Int(environment["FILTER_RABBITMQ_TLS_PORT"] ?? "") ?? 15711
        return BrokerNode(
            directory: environment["FILTER_RABBITMQ_TLS_DIR"].map { URL(fileURLWithPath: $0) }
                ?? Repository.root.appendingPathComponent("test-artifacts/rabbitmq-tls"),
            amqpPort: port + 1,
            managementPort: port + 2,
            distributionPort: port + 3,
            nodeName: "filterd-tls",
            tlsPort: port
        )
    }()

    /// The CA that signed the TLS node's certificate (only with `tlsPort`).
    var caFile: URL {
        directory.appendingPathComponent("tls/ca.pem")
    }

    /// The administrator `rabbitmq-instance.sh` creates.
    static let adminUser = "filteradmin"

    /// A short random suffix for user, owner and server names of one test.
    static func uniqueSuffix() -> String {
        String(UUID().uuidString.prefix(8).lowercased())
    }

    private var scriptEnvironment: [String: String] {
        var environment = [
            "FILTER_RABBITMQ_PORT": String(amqpPort),
            "FILTER_RABBITMQ_MANAGEMENT_PORT": String(managementPort),
            "FILTER_RABBITMQ_DIST_PORT": String(distributionPort),
            "FILTER_RABBITMQ_NODENAME": nodeName,
        ]
        if let tlsPort {
            environment["FILTER_RABBITMQ_TLS_PORT"] = String(tlsPort)
            // The TLS node is this process's alone: it goes when the process does.
            environment["FILTER_RABBITMQ_STOP_WITH"] = String(getpid())
        }
        return environment
    }

    @discardableResult
    private func script(_ command: String, timeout: Duration) async throws -> ProcessResult {
        try await ProcessRunner.run(
            Repository.scripts.appendingPathComponent("rabbitmq-instance.sh").path,
            [command, directory.path],
            environment: scriptEnvironment,
            timeout: timeout
        ).requireSuccess()
    }

    /// Start-ups in this test process, by directory: the script takes seconds even when the node
    /// runs already, so each node is started once per process (until `stop()`).
    private static let startups = Mutex<[String: Task<Void, any Error>]>([:])

    /// Starts the node if it does not answer yet (the first start of a fresh directory takes up
    /// to a minute and a half); once per test process, unless stopped in between.
    /// - Returns: The administrator's password.
    /// - Throws: `HarnessError` if the script fails.
    @discardableResult
    func start() async throws -> String {
        let startup = Self.startups.withLock { startups in
            if let running = startups[directory.path] { return running }
            let startup = Task<Void, any Error> {
                if tlsPort != nil {
                    try await script("tls", timeout: .seconds(60))
                }
                try await script("start", timeout: .seconds(180))
            }
            startups[directory.path] = startup
            return startup
        }
        do {
            try await startup.value
        } catch {
            Self.startups.withLock { $0[directory.path] = nil }
            throw error
        }
        return try adminPassword()
    }

    /// Stops the node; only for `restartable`.
    /// - Throws: `HarnessError` if the script fails.
    func stop() async throws {
        Self.startups.withLock { $0[directory.path] = nil }
        try await script("stop", timeout: .seconds(120))
    }

    /// The administrator's password, from the node's directory.
    /// - Throws: Whatever reading the file throws (the node was never started).
    func adminPassword() throws -> String {
        try String(contentsOf: directory.appendingPathComponent("admin-password"), encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// `amqp://USER@127.0.0.1:PORT/%2F` with the user percent-encoded (owner addresses hold `@`,
    /// maybe `|` or `+`) and no password; on a TLS node
    /// `amqps://USER@localhost:TLSPORT/%2F?cacertfile=CA` (verified: chain and host name).
    /// - Parameter user: The broker user.
    func amqpURL(user: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        let encoded = user.addingPercentEncoding(withAllowedCharacters: allowed) ?? user
        if let tlsPort {
            return "amqps://\(encoded)@localhost:\(tlsPort)/%2F?cacertfile=\(caFile.path)"
        }
        return "amqp://\(encoded)@127.0.0.1:\(amqpPort)/%2F"
    }

    /// Runs filterctl with `arguments` plus the administrator's `--amqp` and `--management`
    /// options, the management password in `FILTERCTL_MANAGEMENT_PASSWORD`.
    /// - Parameters:
    ///   - arguments: The broker command, e.g. `["user", "list"]`.
    ///   - managementPassword: The password to pass; the administrator's if `nil`.
    /// - Returns: The result, whatever the exit status.
    /// - Throws: `HarnessError` if filterctl is missing or hangs.
    func filterctl(_ arguments: [String], managementPassword: String? = nil) async throws -> ProcessResult {
        try await ProcessRunner.run(
            try BuiltProducts.path("filterctl"),
            arguments + [
                "--amqp", "amqp://\(Self.adminUser)@127.0.0.1:\(amqpPort)/%2F",
                "--management", "http://\(Self.adminUser)@127.0.0.1:\(managementPort)",
            ],
            environment: ["FILTERCTL_MANAGEMENT_PASSWORD": try managementPassword ?? adminPassword()],
            timeout: .seconds(60)
        )
    }

    /// Writes `password` to a fresh file (mode 0600) in `directory`.
    /// - Returns: The file.
    static func writePasswordFile(_ password: String, in directory: URL, name: String) throws -> URL {
        let file = directory.appendingPathComponent(name)
        try (password + "\n").write(to: file, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: file.path)
        return file
    }

    /// A broker user made for one test: its name, its password and a file holding it.
    struct Credentials: Sendable {
        /// The broker user (an owner address, or `filterd-<server id>`).
        let user: String
        /// The password.
        let password: String
        /// A file holding the password.
        let passwordFile: URL
    }

    /// `filterctl setup` for a server id unique to the test: the reply queue and the server's user.
    /// - Parameters:
    ///   - serverID: The server id.
    ///   - directory: Where to put the password file.
    /// - Returns: The server's credentials.
    /// - Throws: `HarnessError` if filterctl fails.
    func setUpServer(_ serverID: String, in directory: URL) async throws -> Credentials {
        let password = "server-\(UUID().uuidString)"
        let file = try Self.writePasswordFile(password, in: directory, name: "server-\(serverID).password")
        try await filterctl(["setup", "--server-id", serverID, "--server-password-file", file.path]).requireSuccess()
        return Credentials(user: "filterd-\(serverID)", password: password, passwordFile: file)
    }

    /// `filterctl user add OWNER` with a fresh password.
    /// - Parameters:
    ///   - owner: The owner address (canonical: lowercase).
    ///   - directory: Where to put the password file.
    ///   - extraArguments: More options, e.g. `["--max-queue-bytes", "4096"]`.
    /// - Returns: The owner's credentials.
    /// - Throws: `HarnessError` if filterctl fails.
    func addUser(_ owner: String, in directory: URL, extraArguments: [String] = []) async throws -> Credentials {
        let password = "owner-\(UUID().uuidString)"
        let file = try Self.writePasswordFile(
            password, in: directory, name: "owner-\(BrokerNode.uniqueSuffix()).password")
        try await filterctl(["user", "add", owner, "--password-file", file.path] + extraArguments).requireSuccess()
        return Credentials(user: owner, password: password, passwordFile: file)
    }

    /// `filterctl user remove OWNER`, ignoring failures (cleanup).
    /// - Parameter owner: The owner address.
    func removeUser(_ owner: String) async {
        _ = try? await filterctl(["user", "remove", owner])
    }

    /// Deletes what `setUpServer` made and no filterctl command removes (the server's queue,
    /// policy and user), ignoring failures (cleanup).
    /// - Parameter serverID: The server id.
    func removeServer(_ serverID: String) async {
        let queue = "mailfilter.server.\(serverID)"
        guard let password = try? adminPassword() else { return }
        for path in ["users/filterd-\(serverID)", "queues/%2F/\(queue)", "policies/%2F/\(queue)"] {
            _ = try? await ProcessRunner.run(
                "curl",
                // The credentials go in through curl's configuration on standard input, not argv.
                [
                    "--silent", "--fail", "--config", "-", "--request", "DELETE",
                    "http://127.0.0.1:\(managementPort)/api/\(path)",
                ],
                standardInput: Data("user = \"\(Self.adminUser):\(password)\"\n".utf8)
            )
        }
    }

    /// The number of consumers on `owner`'s request queue, from a passive `queue.declare` over
    /// AMQP (python3-pika, as the administrator): what the server's subscription check sees,
    /// without the delay of the management API's statistics.
    /// - Parameter owner: The owner address.
    /// - Returns: The count, or `nil` if the queue does not exist.
    /// - Throws: `HarnessError` if python3 fails otherwise.
    func consumerCount(of owner: String) async throws -> Int? {
        let result = try await ProcessRunner.run(
            "/usr/bin/python3",
            [
                "-c",
                """
                import os, sys, pika
                credentials = pika.PlainCredentials(os.environ["ADMIN_USER"], os.environ["ADMIN_PASSWORD"])
                connection = pika.BlockingConnection(pika.ConnectionParameters("127.0.0.1", \(amqpPort), credentials=credentials))
                try:
                    ok = connection.channel().queue_declare("mailfilter.user." + os.environ["OWNER"], passive=True)
                    print(ok.method.consumer_count)
                except pika.exceptions.ChannelClosedByBroker as error:
                    sys.exit(3 if error.reply_code == 404 else 1)
                """,
            ],
            environment: ["ADMIN_USER": Self.adminUser, "ADMIN_PASSWORD": try adminPassword(), "OWNER": owner]
        )
        if result.exitStatus == 3 { return nil }
        return Int(try result.requireSuccess().standardOutput.trimmingCharacters(in: .whitespacesAndNewlines))
    }

    /// Waits until `owner`'s request queue has `count` consumers.
    /// - Parameters:
    ///   - owner: The owner address.
    ///   - count: The number of consumers to wait for.
    ///   - timeout: How long to wait.
    /// - Throws: `HarnessError.Code.timedOut`.
    func waitForConsumers(of owner: String, count: Int, timeout: Duration = .seconds(30)) async throws {
        let deadline = ContinuousClock.now + timeout
        var last: Int?
        while ContinuousClock.now < deadline {
            last = try await consumerCount(of: owner)
            if last == count { return }
            try await Task.sleep(for: .milliseconds(200))
        }
        throw HarnessError(
            code: .timedOut,
            message: "\(owner): \(last.map(String.init) ?? "no queue") consumer(s), not \(count), after \(timeout)")
    }
}

/// What one test sets up on a broker node, with names unique to it: a server id with its
/// broker user (`filterctl setup`) and owners (`filterctl user add`); all removed again by
/// `withFixture`.
final class BrokerFixture: Sendable {
    /// The node.
    let broker: BrokerNode
    /// The random suffix of every name this test uses.
    let suffix: String
    /// The server id, `e2e-<suffix>`.
    let serverID: String
    /// The server's broker user.
    let server: BrokerNode.Credentials
    /// Where the password files live.
    let directory: URL

    private let owners = Mutex<[String]>([])

    private init(broker: BrokerNode, suffix: String, server: BrokerNode.Credentials, directory: URL) {
        self.broker = broker
        self.suffix = suffix
        self.serverID = "e2e-\(suffix)"
        self.server = server
        self.directory = directory
    }

    /// Starts `broker` if needed, sets up a fresh server id, runs `body`, then removes the
    /// server and every owner added through the fixture (also when `body` throws).
    /// - Parameters:
    ///   - broker: The node; the shared one by default.
    ///   - body: The test.
    /// - Returns: What `body` returns.
    /// - Throws: What `body` or the setup throws.
    static func withFixture<Result>(
        broker: BrokerNode = .shared, _ body: (BrokerFixture) async throws -> Result
    ) async throws -> Result {
        try await broker.start()
        let suffix = BrokerNode.uniqueSuffix()
        let directory = try Repository.makeTemporaryDirectory(prefix: "filterd-broker-\(suffix)")
        let server = try await broker.setUpServer("e2e-\(suffix)", in: directory)
        let fixture = BrokerFixture(broker: broker, suffix: suffix, server: server, directory: directory)
        do {
            let result = try await body(fixture)
            await fixture.tearDown()
            return result
        } catch {
            await fixture.tearDown()
            throw error
        }
    }

    /// Adds the owner `<localPart>.<suffix>@example.test` (`filterctl user add`).
    /// - Parameters:
    ///   - localPart: The start of the local part; may hold regex characters (`j.smith`).
    ///   - extraArguments: More `user add` options, e.g. `["--max-queue-bytes", "4096"]`.
    /// - Returns: The owner's credentials; `user` is the owner address.
    /// - Throws: `HarnessError` if filterctl fails.
    func addOwner(_ localPart: String, extraArguments: [String] = []) async throws -> BrokerNode.Credentials {
        let owner = owner(localPart)
        owners.withLock { $0.append(owner) }
        return try await broker.addUser(owner, in: directory, extraArguments: extraArguments)
    }

    /// The address `<localPart>.<suffix>@example.test`, whether or not it was added.
    /// - Parameter localPart: The start of the local part.
    func owner(_ localPart: String) -> String {
        "\(localPart).\(suffix)@example.test"
    }

    /// The server's filtering flags for this fixture.
    /// - Parameters:
    ///   - deadline: `--deadline`, in seconds.
    ///   - configuration: Lines of the `filtering:` section.
    func filtering(deadline: Int? = nil, configuration: [String] = []) -> FilterdProcess.Filtering {
        FilterdProcess.Filtering(
            broker: broker, serverID: serverID, credentials: server, deadline: deadline, configuration: configuration)
    }

    private func tearDown() async {
        for owner in owners.withLock({ $0 }) {
            await broker.removeUser(owner)
        }
        await broker.removeServer(serverID)
        if !Repository.keepArtifacts {
            try? FileManager.default.removeItem(at: directory)
        }
    }
}
