import Foundation

/// Postfix's `smtp-sink` on 127.0.0.1, saving every message it accepts to a file.
/// Stands in for filterd or for a next hop. Its greeting host name is
/// `smtp-sink.example.test`, which differs from the test Postfix's `myhostname`.
final class SMTPSink: Sendable {
    /// The port it listens on.
    let port: UInt16
    /// Where it writes one file per message (its generated `X-Client-Addr`,
    /// `X-Mail-Args`, `X-Rcpt-Args`, ... lines first, then the message).
    let dumpDirectory: URL

    private let process: RunningProcess

    /// Starts smtp-sink and waits until it accepts connections.
    /// - Parameters:
    ///   - port: The port; a free one if `nil`.
    ///   - user: The user it switches to after binding (smtp-sink refuses to run as root).
    ///   - extraArguments: More options, e.g. `["-Q"]` to reject with 4xx after DATA.
    /// - Throws: `HarnessError` if it cannot start or does not listen in time.
    init(port: UInt16? = nil, user: String = "nobody", extraArguments: [String] = []) async throws {
        let port = try port ?? freePort()
        let root = try Repository.makeTemporaryDirectory(prefix: "filterd-sink")
        let dumpDirectory = root.appendingPathComponent("messages")
        try FileManager.default.createDirectory(
            at: dumpDirectory,
            withIntermediateDirectories: true,
            attributes: [.posixPermissions: 0o777]
        )
        let arguments =
            [
                "-u", user,
                "-h", "smtp-sink.example.test",
                "-d", dumpDirectory.appendingPathComponent("message.").path,
            ] + extraArguments + ["127.0.0.1:\(port)", "100"]
        let process = try RunningProcess(executable: "smtp-sink", arguments: arguments)
        self.port = port
        self.dumpDirectory = dumpDirectory
        self.process = process
        do {
            try await waitUntilListening(port: port)
        } catch {
            let result = await process.stop()
            throw HarnessError(code: .timedOut, message: "\(error)\nsmtp-sink stderr:\n\(result.standardError)")
        }
    }

    /// The messages received so far. smtp-sink creates a file when a transaction
    /// starts and completes it before it answers the end of DATA, so read contents
    /// only after the sender saw its 250 (e.g. Postfix logged `status=sent`).
    /// - Throws: Whatever reading a file throws.
    func messages() throws -> [MailFile] {
        try mailFiles(in: [dumpDirectory])
    }

    /// Waits until at least `count` messages have been received.
    /// - Parameters:
    ///   - count: How many messages.
    ///   - timeout: How long to wait.
    /// - Returns: The messages.
    /// - Throws: `HarnessError.Code.timedOut`.
    func waitForMessages(count: Int, timeout: Duration = .seconds(30)) async throws -> [MailFile] {
        try await waitForMailFiles(count: count, timeout: timeout, in: "smtp-sink \(dumpDirectory.path)") {
            try messages()
        }
    }

    /// Stops smtp-sink and deletes the saved messages (kept with `FILTER_KEEP_ARTIFACTS=1`).
    func stop() async {
        _ = await process.stop()
        if !Repository.keepArtifacts {
            try? FileManager.default.removeItem(at: dumpDirectory.deletingLastPathComponent())
        }
    }
}
