/// Runs Postfix's `smtp-source` load generator.
enum SMTPSource {
    /// Sends `messageCount` generated messages to `127.0.0.1:port`.
    /// - Parameters:
    ///   - port: The server port on 127.0.0.1.
    ///   - messageCount: Messages in total (`-m`).
    ///   - sessionCount: Parallel sessions (`-s`).
    ///   - recipientsPerMessage: Recipients per message (`-r`); with more than one,
    ///     smtp-source numbers them (`1alice@...`, `2alice@...`).
    ///   - from: The envelope sender (`-f`).
    ///   - to: The recipient (`-t`).
    ///   - subject: The Subject header (`-S`).
    ///   - messageSize: Approximate body size in bytes (`-l`), or `nil` for smtp-source's default.
    ///   - timeout: How long the whole run may take.
    /// - Returns: The result; smtp-source exits non-zero when the server fails a session.
    /// - Throws: `HarnessError` if smtp-source is missing or hangs.
    static func send(
        port: UInt16,
        messageCount: Int = 1,
        sessionCount: Int = 1,
        recipientsPerMessage: Int = 1,
        from: String = "sender@example.test",
        to: String,
        subject: String = "smtp-source test",
        messageSize: Int? = nil,
        timeout: Duration = .seconds(120)
    ) async throws -> ProcessResult {
        var arguments = [
            "-m", String(messageCount),
            "-s", String(sessionCount),
            "-r", String(recipientsPerMessage),
            "-f", from,
            "-t", to,
            "-S", subject,
            "-M", "smtp-source.example.test",
        ]
        if let messageSize {
            arguments += ["-l", String(messageSize)]
        }
        arguments.append("127.0.0.1:\(port)")
        return try await ProcessRunner.run("smtp-source", arguments, timeout: timeout)
    }
}
