import Foundation

/// Runs `swaks`, the SMTP test client.
enum Swaks {
    /// Runs swaks with raw arguments.
    /// - Parameters:
    ///   - arguments: swaks arguments, e.g. `["--server", "127.0.0.1:2525", "--to", ...]`.
    ///   - timeout: How long swaks may run.
    /// - Returns: The transcript (swaks prints it on standard output) and exit status;
    ///   swaks exits non-zero when the server refuses the message.
    /// - Throws: `HarnessError` if swaks is missing or hangs.
    static func run(_ arguments: [String], timeout: Duration = .seconds(60)) async throws -> ProcessResult {
        try await ProcessRunner.run("swaks", arguments, timeout: timeout)
    }

    /// Sends one message to `127.0.0.1:port`.
    /// - Parameters:
    ///   - port: The server port on 127.0.0.1.
    ///   - from: The envelope sender (also the From header).
    ///   - to: Envelope recipients.
    ///   - subject: The Subject header.
    ///   - body: The message body.
    ///   - extraArguments: More swaks arguments, e.g. `["--header", "X-Test: 1"]`.
    /// - Returns: The swaks result; check `succeeded` or call `requireSuccess()`.
    /// - Throws: `HarnessError` if swaks is missing or hangs.
    static func send(
        port: UInt16,
        from: String = "sender@example.test",
        to: [String],
        subject: String,
        body: String = "Sent by the filterd integration tests.",
        extraArguments: [String] = []
    ) async throws -> ProcessResult {
        let arguments =
            [
                "--server", "127.0.0.1:\(port)",
                "--from", from,
                "--to", to.joined(separator: ","),
                "--helo", "swaks.example.test",
                "--header", "Subject: \(subject)",
                "--body", body,
            ] + extraArguments
        return try await run(arguments)
    }
}

/// Sends a message with XFORWARD attributes through `scripts/smtp-xforward.py`
/// (swaks speaks XCLIENT but not XFORWARD): stands in for Postfix's `scan`
/// transport or for filterd's delivery to the reinjection port.
enum XForwardClient {
    /// Sends one message to `127.0.0.1:port`, announcing the original client first.
    /// - Parameters:
    ///   - port: The server port on 127.0.0.1.
    ///   - attributes: XFORWARD attributes in order, e.g. `[("NAME", "client.example"), ("ADDR", "192.0.2.9")]`.
    ///   - from: The envelope sender.
    ///   - to: Envelope recipients.
    ///   - subject: The Subject header.
    /// - Returns: The result; it fails when XFORWARD is not offered or is refused.
    /// - Throws: `HarnessError` if python3 is missing or the script hangs.
    static func send(
        port: UInt16,
        attributes: [(name: String, value: String)],
        from: String = "sender@example.test",
        to: [String],
        subject: String
    ) async throws -> ProcessResult {
        var arguments = [
            Repository.scripts.appendingPathComponent("smtp-xforward.py").path,
            "--server", "127.0.0.1:\(port)",
            "--from", from,
            "--subject", subject,
        ]
        arguments += to.flatMap { ["--to", $0] }
        arguments += attributes.flatMap { ["--xforward", "\($0.name)=\($0.value)"] }
        return try await ProcessRunner.run("python3", arguments)
    }
}

extension Swaks {
    /// Sends one message with a fresh Message-ID whose body ends with `-- end of <Message-ID>`,
    /// as `LoadGenerator`'s do, so that `SMTPSink.waitForMessageIDs` can count it.
    /// - Parameters:
    ///   - port: The SMTP server on 127.0.0.1.
    ///   - from: The envelope sender.
    ///   - to: The envelope recipient.
    ///   - subject: The Subject header.
    /// - Returns: The Message-ID, with angle brackets.
    /// - Throws: `HarnessError` if swaks fails (the server did not accept the message).
    @discardableResult
    static func sendMessage(port: UInt16, from: String, to: String, subject: String) async throws -> String {
        let messageID = "<\(UUID().uuidString.lowercased())@e2e.example.test>"
        try await send(
            port: port, from: from, to: [to], subject: subject,
            body: "Sent by the filterd end-to-end tests.\n-- end of \(messageID)",
            extraArguments: ["--header", "Message-ID: \(messageID)"]
        ).requireSuccess()
        return messageID
    }
}
