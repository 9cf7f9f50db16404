import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The executables this package builds (`filterd`, `filterctl`), found next to the test
/// binary, where `swift test` puts them, or in `.build/debug`.
enum BuiltProducts {
    /// The absolute path of the product `name`.
    /// - Parameter name: `filterd` or `filterctl`.
    /// - Throws: `HarnessError.Code.executableNotFound` (run `swift build --product NAME`).
    static func path(_ name: String) throws -> String {
        let testBinaryDirectory = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        let candidates = [
            testBinaryDirectory.appendingPathComponent(name).path,
            Repository.root.appendingPathComponent(".build/debug/\(name)").path,
        ]
        for candidate in candidates where FileManager.default.isExecutableFile(atPath: candidate) {
            return candidate
        }
        throw HarnessError(
            code: .executableNotFound,
            message: "\(name) not found in \(candidates); run `swift build --product \(name)`"
        )
    }
}

/// A `filterd server` child process with its own spool and configuration file, started with
/// `RunningProcess` so that SIGTERM reaches it. Prefer `withRunning`, which always stops it.
final class FilterdProcess: Sendable {
    /// The `delivery:` settings written to the configuration file, in seconds.
    struct Delivery: Sendable {
        /// `min_backoff`.
        var minBackoff = 1
        /// `max_backoff`.
        var maxBackoff = 2
        /// `max_queue_lifetime`.
        var maxQueueLifetime = 3600
    }

    /// Per-user filtering over a broker: the `--amqp`, `--amqp-password-file`, `--server-id`
    /// and `--deadline` flags and the `filtering:` section of the configuration file.
    struct Filtering: Sendable {
        /// `--amqp`: the server's broker URL, without a password.
        var amqpURL: String
        /// `--server-id`.
        var serverID: String
        /// `--amqp-password-file`.
        var passwordFile: URL
        /// `--deadline`, in seconds; the server's default (60) if `nil`.
        var deadline: Int?
        /// Lines of the `filtering:` section, without indentation, e.g. `"offline_policy: wait"`.
        var configuration: [String] = []
        /// More `filterd server` flags, e.g. `["--deny-policy", "bounce"]`.
        var extraArguments: [String] = []

        /// Filtering through `broker` as the server user that `BrokerNode.setUpServer` made.
        /// - Parameters:
        ///   - broker: The node.
        ///   - serverID: The server id given to `setUpServer`.
        ///   - credentials: What `setUpServer` returned.
        ///   - deadline: `--deadline`, in seconds.
        ///   - configuration: Lines of the `filtering:` section.
        init(
            broker: BrokerNode, serverID: String, credentials: BrokerNode.Credentials, deadline: Int? = nil,
            configuration: [String] = []
        ) {
            self.amqpURL = broker.amqpURL(user: credentials.user)
            self.serverID = serverID
            self.passwordFile = credentials.passwordFile
            self.deadline = deadline
            self.configuration = configuration
        }

        /// The command-line flags.
        var arguments: [String] {
            ["--amqp", amqpURL, "--amqp-password-file", passwordFile.path, "--server-id", serverID]
                + (deadline.map { ["--deadline", String($0)] } ?? []) + extraArguments
        }

        /// The `filtering:` section for the configuration file, or nothing.
        var yaml: String {
            configuration.isEmpty ? "" : "\nfiltering:\n" + configuration.map { "  " + $0 }.joined(separator: "\n")
        }
    }

    /// Where filterd listens (127.0.0.1).
    let listenPort: UInt16
    /// Where filterd delivers (127.0.0.1).
    let nextHopPort: UInt16
    /// filterd's greeting host name, used in its `Received` field and as `Reporting-MTA`.
    let hostname: String
    /// The spool directory (a fresh temporary directory).
    let spoolDirectory: URL
    /// The running process.
    let process: RunningProcess

    private let root: URL

    /// Starts `filterd server` on a fresh spool and waits until it accepts connections.
    /// - Parameters:
    ///   - listenPort: Where to listen; a free port if `nil`.
    ///   - nextHopPort: The next hop on 127.0.0.1 (nothing needs to listen there).
    ///   - hostname: `--hostname`.
    ///   - delivery: Retry timing for the configuration file.
    ///   - spoolDirectory: An existing spool to reuse; a fresh one if `nil`.
    ///   - filtering: Per-user filtering over a broker; none (every recipient passes) if `nil`.
    /// - Throws: `HarnessError` if filterd is missing or does not listen in time.
    init(
        listenPort: UInt16? = nil,
        nextHopPort: UInt16,
        hostname: String = "filterd.example.test",
        delivery: Delivery = Delivery(),
        spoolDirectory: URL? = nil,
        filtering: Filtering? = nil
    ) async throws {
        let root = try Repository.makeTemporaryDirectory(prefix: "filterd-server")
        let listenPort = try listenPort ?? freePort()
        let spoolDirectory = spoolDirectory ?? root.appendingPathComponent("spool")
        let configuration = root.appendingPathComponent("filterd.yaml")
        try ("""
        delivery:
          min_backoff: \(delivery.minBackoff)
          max_backoff: \(delivery.maxBackoff)
          max_queue_lifetime: \(delivery.maxQueueLifetime)
        """ + (filtering?.yaml ?? "")).write(to: configuration, atomically: true, encoding: .utf8)
        let process = try RunningProcess(
            executable: try BuiltProducts.path("filterd"),
            arguments: [
                "server",
                "--config", configuration.path,
                "--listen", "127.0.0.1:\(listenPort)",
                "--next-hop", "127.0.0.1:\(nextHopPort)",
                "--spool", spoolDirectory.path,
                "--hostname", hostname,
                "--log-level", "debug",
            ] + (filtering?.arguments ?? [])
        )
        self.listenPort = listenPort
        self.nextHopPort = nextHopPort
        self.hostname = hostname
        self.spoolDirectory = spoolDirectory
        self.process = process
        self.root = root
        do {
            try await waitUntilListening(port: listenPort, timeout: .seconds(20))
        } catch {
            let result = await process.stop()
            throw HarnessError(code: .timedOut, message: "\(error)\nfilterd stderr:\n\(result.standardError)")
        }
    }

    /// Starts filterd, runs `body`, then stops filterd (SIGTERM) and deletes its files (kept
    /// with `FILTER_KEEP_ARTIFACTS=1`), also when `body` throws. A failure message carries
    /// filterd's log.
    /// - Parameters:
    ///   - listenPort: Where to listen; a free port if `nil`.
    ///   - nextHopPort: The next hop on 127.0.0.1.
    ///   - delivery: Retry timing.
    ///   - spoolDirectory: An existing spool to reuse (not deleted afterwards); a fresh one if `nil`.
    ///   - filtering: Per-user filtering over a broker, if any.
    ///   - body: The test.
    /// - Returns: What `body` returns.
    /// - Throws: What `body` throws, with filterd's log appended.
    static func withRunning<Result>(
        listenPort: UInt16? = nil,
        nextHopPort: UInt16,
        delivery: Delivery = Delivery(),
        spoolDirectory: URL? = nil,
        filtering: Filtering? = nil,
        _ body: (FilterdProcess) async throws -> Result
    ) async throws -> Result {
        let filterd = try await FilterdProcess(
            listenPort: listenPort, nextHopPort: nextHopPort, delivery: delivery, spoolDirectory: spoolDirectory,
            filtering: filtering)
        do {
            let result = try await body(filterd)
            await filterd.stopAndRemoveFiles()
            return result
        } catch {
            let log = filterd.log
            await filterd.stopAndRemoveFiles()
            throw HarnessError(code: .processFailed, message: "\(error)\nfilterd log:\n\(log)")
        }
    }

    /// Everything filterd logged so far (its standard error).
    var log: String { process.standardError }

    /// Sends SIGTERM (graceful shutdown) without waiting.
    func terminate() {
        kill(process.processIdentifier, SIGTERM)
    }

    /// Stops filterd: SIGTERM, SIGKILL after 10 s.
    /// - Returns: The result; exit status 0 after a clean shutdown.
    @discardableResult
    func stop() async -> ProcessResult {
        await process.stop(grace: .seconds(10))
    }

    /// Deletes filterd's directory (configuration and spool), unless `FILTER_KEEP_ARTIFACTS=1`.
    func removeFiles() {
        if !Repository.keepArtifacts {
            try? FileManager.default.removeItem(at: root)
        }
    }

    /// Stops filterd and deletes its directory.
    func stopAndRemoveFiles() async {
        await stop()
        removeFiles()
    }

    /// Waits until a log line contains `text`.
    /// - Parameters:
    ///   - text: The text to look for.
    ///   - timeout: How long to wait.
    /// - Returns: The first matching line.
    /// - Throws: `HarnessError.Code.timedOut`, with the log.
    @discardableResult
    func waitForLog(containing text: String, timeout: Duration = .seconds(30)) async throws -> String {
        let deadline = ContinuousClock.now + timeout
        while true {
            if let line = log.split(separator: "\n").first(where: { $0.contains(text) }) {
                return String(line)
            }
            guard ContinuousClock.now < deadline else {
                throw HarnessError(code: .timedOut, message: "filterd logged no line containing \"\(text)\" in \(timeout)")
            }
            try await Task.sleep(for: .milliseconds(100))
        }
    }

    /// Log lines containing `text`.
    /// - Parameter text: The text to look for.
    func logLines(containing text: String) -> [String] {
        log.split(separator: "\n").filter { $0.contains(text) }.map(String.init)
    }

    /// Runs `filterctl spool ARGUMENTS --spool <this spool>`.
    /// - Parameter arguments: The spool subcommand and its arguments, e.g. `["show", id]`.
    /// - Returns: The result, whatever the exit status.
    /// - Throws: `HarnessError` if filterctl is missing or hangs.
    func filterctl(_ arguments: [String]) async throws -> ProcessResult {
        try await Filterctl.spool(arguments, spoolDirectory: spoolDirectory)
    }

    /// Runs `filterctl quarantine ARGUMENTS --spool <this spool>`.
    /// - Parameter arguments: The quarantine subcommand and its arguments, e.g. `["release", id]`.
    /// - Returns: The result, whatever the exit status.
    /// - Throws: `HarnessError` if filterctl is missing or hangs.
    func filterctlQuarantine(_ arguments: [String]) async throws -> ProcessResult {
        try await Filterctl.run(["quarantine"] + arguments, spoolDirectory: spoolDirectory)
    }

    /// Waits until the spool holds no message (per `filterctl spool list`).
    /// - Parameter timeout: How long to wait.
    /// - Throws: `HarnessError.Code.timedOut` with the last listing.
    func waitForEmptySpool(timeout: Duration = .seconds(30)) async throws {
        let deadline = ContinuousClock.now + timeout
        while true {
            let listing = try await filterctl(["list"]).requireSuccess().standardOutput
            if listing.contains("0 message(s) in the spool") {
                return
            }
            guard ContinuousClock.now < deadline else {
                throw HarnessError(code: .timedOut, message: "spool not empty after \(timeout):\n\(listing)")
            }
            try await Task.sleep(for: .milliseconds(200))
        }
    }
}

/// Runs the `filterctl` executable.
enum Filterctl {
    /// Runs `filterctl spool ARGUMENTS --spool DIR`.
    /// - Parameters:
    ///   - arguments: The spool subcommand and its arguments.
    ///   - spoolDirectory: The spool.
    /// - Returns: The result, whatever the exit status.
    /// - Throws: `HarnessError` if filterctl is missing or hangs.
    static func spool(_ arguments: [String], spoolDirectory: URL) async throws -> ProcessResult {
        try await run(["spool"] + arguments, spoolDirectory: spoolDirectory)
    }

    /// Runs `filterctl ARGUMENTS --spool DIR`.
    /// - Parameters:
    ///   - arguments: The command, its subcommand and their arguments.
    ///   - spoolDirectory: The spool.
    /// - Returns: The result, whatever the exit status.
    /// - Throws: `HarnessError` if filterctl is missing or hangs.
    static func run(_ arguments: [String], spoolDirectory: URL) async throws -> ProcessResult {
        try await ProcessRunner.run(
            try BuiltProducts.path("filterctl"),
            arguments + ["--spool", spoolDirectory.path],
            timeout: .seconds(30)
        )
    }

    /// The queue ids in a `filterctl spool list` output (the first word of each entry line).
    /// - Parameter listing: Its standard output.
    static func queueIDs(inListing listing: String) -> [String] {
        listing.split(separator: "\n")
            .filter { !$0.hasSuffix("message(s) in the spool") }
            .compactMap { $0.split(separator: " ").first.map(String.init) }
    }
}

/// The whole chain of docs/postfix.md: a Postfix instance whose `content_filter` hands mail to
/// filterd, which reinjects it into the instance's reinjection port.
enum FilterChain {
    /// Creates and starts Postfix and filterd, runs `body`, then stops both (also on failure).
    /// - Parameters:
    ///   - configure: Changes to the created instance before it starts (e.g. `postconf -P`).
    ///   - delivery: filterd's retry timing.
    ///   - filtering: Per-user filtering over a broker, if any.
    ///   - body: The test.
    /// - Returns: What `body` returns.
    /// - Throws: What `body` throws, with filterd's log appended.
    static func withRunningChain<Result>(
        configure: (PostfixInstance) async throws -> Void = { _ in },
        delivery: FilterdProcess.Delivery = .init(),
        filtering: FilterdProcess.Filtering? = nil,
        _ body: (PostfixInstance, FilterdProcess) async throws -> Result
    ) async throws -> Result {
        let postfix = try await PostfixInstance.create(filter: true)
        do {
            try await configure(postfix)
            try await postfix.start()
            let result = try await FilterdProcess.withRunning(
                listenPort: postfix.filterPort, nextHopPort: postfix.reinjectPort, delivery: delivery,
                filtering: filtering
            ) { filterd in
                try await body(postfix, filterd)
            }
            try await postfix.stop()
            try postfix.removeFiles()
            return result
        } catch {
            try? await postfix.stop()
            try? postfix.removeFiles()
            throw error
        }
    }
}

extension PostfixInstance {
    /// Sets a `-o` override on the reinjection smtpd (`postconf -P`); call before `start()`.
    /// - Parameters:
    ///   - name: The parameter, e.g. `smtpd_recipient_restrictions`.
    ///   - value: Its value; no white space (master.cf `-o` syntax).
    /// - Throws: `HarnessError` if postconf fails.
    func setReinjectOption(_ name: String, _ value: String) async throws {
        try await ProcessRunner.run(
            "postconf",
            ["-c", configDirectory.path, "-P", "127.0.0.1:\(reinjectPort)/inet/\(name)=\(value)"]
        ).requireSuccess()
    }
}
