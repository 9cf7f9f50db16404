import Foundation

/// A private Postfix instance for one test, managed by `scripts/postfix-instance.sh`.
///
/// It listens on 127.0.0.1 only: the public smtpd on `smtpPort`, the reinjection
/// smtpd (filterd's next hop) on `reinjectPort`; with the filter on, Postfix hands
/// every message to `127.0.0.1:filterPort` through the `scan` transport, exactly
/// as docs/postfix.md tells operators. Mail for `example.test` is delivered to
/// `maildirRoot/<localpart>/Maildir/new` with any `+extension` removed; all other
/// domains bounce. Prefer `withRunningInstance`, which always stops it.
struct PostfixInstance: Sendable {
    /// The instance root: `conf/`, `queue/`, `data/`, `maillog`.
    let directory: URL
    /// Where Maildirs are created, one per local part.
    let maildirRoot: URL
    /// The public smtpd (what a sending client talks to).
    let smtpPort: UInt16
    /// Where the `scan` transport delivers: filterd's listening port.
    let filterPort: UInt16
    /// The reinjection smtpd: filterd's next hop.
    let reinjectPort: UInt16
    /// Whether `content_filter` routes mail through `filterPort`.
    let filterEnabled: Bool

    /// The Postfix configuration directory (`postfix -c` argument).
    var configDirectory: URL { directory.appendingPathComponent("conf") }

    /// Postfix's log file (`maillog_file`).
    var logFile: URL { directory.appendingPathComponent("maillog") }

    private static let script = Repository.scripts.appendingPathComponent("postfix-instance.sh").path

    /// Creates (but does not start) an instance in a new temporary directory.
    /// - Parameters:
    ///   - filter: Whether to route mail through the filter port (`false`: `--no-filter`).
    ///   - filterPort: Where the filter listens; a free port if `nil`.
    ///   - reinjectPort: The reinjection port; a free port if `nil`.
    /// - Throws: `HarnessError` if the script fails (its output is in the message).
    static func create(
        filter: Bool = true,
        filterPort: UInt16? = nil,
        reinjectPort: UInt16? = nil
    ) async throws -> PostfixInstance {
        let root = try Repository.makeTemporaryDirectory(prefix: "filterd-postfix")
        let instance = PostfixInstance(
            directory: root.appendingPathComponent("instance"),
            maildirRoot: root.appendingPathComponent("mail"),
            smtpPort: try freePort(),
            filterPort: try filterPort ?? freePort(),
            reinjectPort: try reinjectPort ?? freePort(),
            filterEnabled: filter
        )
        var arguments = [
            "create", instance.directory.path,
            "--smtp-port", String(instance.smtpPort),
            "--filter-port", String(instance.filterPort),
            "--reinject-port", String(instance.reinjectPort),
            "--maildir-root", instance.maildirRoot.path,
        ]
        if !filter {
            arguments.append("--no-filter")
        }
        try await ProcessRunner.run(script, arguments).requireSuccess()
        return instance
    }

    /// Creates and starts an instance, runs `body`, then stops the instance and
    /// deletes its files (kept with `FILTER_KEEP_ARTIFACTS=1`), also when `body` throws.
    /// - Parameters:
    ///   - filter: Whether to route mail through the filter port.
    ///   - filterPort: Where the filter listens; a free port if `nil`.
    ///   - reinjectPort: The reinjection port; a free port if `nil`.
    ///   - body: The test.
    /// - Returns: What `body` returns.
    /// - Throws: What `body` throws, or `HarnessError` from creating or starting.
    static func withRunningInstance<Result>(
        filter: Bool = true,
        filterPort: UInt16? = nil,
        reinjectPort: UInt16? = nil,
        _ body: (PostfixInstance) async throws -> Result
    ) async throws -> Result {
        let instance = try await create(filter: filter, filterPort: filterPort, reinjectPort: reinjectPort)
        do {
            try await instance.start()
            let result = try await body(instance)
            try await instance.stop()
            try instance.removeFiles()
            return result
        } catch {
            try? await instance.stop()
            try? instance.removeFiles()
            throw error
        }
    }

    /// Starts Postfix and waits until every port it serves accepts connections.
    /// - Throws: `HarnessError` with the script's output.
    func start() async throws {
        try await ProcessRunner.run(Self.script, ["start", directory.path]).requireSuccess()
    }

    /// Stops Postfix and waits for its master process to exit.
    /// - Throws: `HarnessError` with the script's output.
    func stop() async throws {
        try await ProcessRunner.run(Self.script, ["stop", directory.path]).requireSuccess()
    }

    /// Deletes the instance's files, unless `FILTER_KEEP_ARTIFACTS=1`. Call after `stop()`.
    /// - Throws: Whatever `FileManager` throws.
    func removeFiles() throws {
        guard !Repository.keepArtifacts else { return }
        try FileManager.default.removeItem(at: directory.deletingLastPathComponent())
    }

    /// The whole Postfix log so far.
    func log() -> String {
        guard let data = FileManager.default.contents(atPath: logFile.path) else { return "" }
        return String(decoding: data, as: UTF8.self)
    }

    /// Waits until a log line contains `text`.
    /// - Parameters:
    ///   - text: The text to look for.
    ///   - timeout: How long to wait.
    /// - Returns: The first matching line.
    /// - Throws: `HarnessError.Code.timedOut`, with the log's tail.
    @discardableResult
    func waitForLog(containing text: String, timeout: Duration = .seconds(30)) async throws -> String {
        let deadline = ContinuousClock.now + timeout
        while true {
            let log = log()
            if let line = log.split(separator: "\n").first(where: { $0.contains(text) }) {
                return String(line)
            }
            guard ContinuousClock.now < deadline else {
                let tail = log.split(separator: "\n").suffix(30).joined(separator: "\n")
                throw HarnessError(
                    code: .timedOut,
                    message: "no line containing \"\(text)\" in \(logFile.path) after \(timeout); last lines:\n\(tail)"
                )
            }
            try await Task.sleep(for: .milliseconds(100))
        }
    }

    /// The Maildir of `user` (a local part in `example.test`, case-insensitive, no `+extension`).
    /// - Parameter user: The local part.
    func maildir(user: String) -> URL {
        maildirRoot.appendingPathComponent(user.lowercased()).appendingPathComponent("Maildir")
    }

    /// The messages delivered to `user` so far (`new/`, then `cur/`).
    /// - Parameter user: The local part.
    /// - Throws: Whatever reading a file throws.
    func deliveredMessages(user: String) throws -> [MailFile] {
        let maildir = maildir(user: user)
        return try mailFiles(in: [
            maildir.appendingPathComponent("new"), maildir.appendingPathComponent("cur"),
        ])
    }

    /// Waits until `user`'s Maildir holds at least `count` messages.
    /// - Parameters:
    ///   - user: The local part.
    ///   - count: How many messages to wait for.
    ///   - timeout: How long to wait.
    /// - Returns: The delivered messages.
    /// - Throws: `HarnessError.Code.timedOut`.
    func waitForMaildir(user: String, count: Int, timeout: Duration = .seconds(30)) async throws -> [MailFile] {
        try await waitForMailFiles(count: count, timeout: timeout, in: maildir(user: user).path) {
            try deliveredMessages(user: user)
        }
    }
}
