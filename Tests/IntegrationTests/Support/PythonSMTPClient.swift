import Foundation

/// Sends one message with Python's `smtplib`, which (unlike swaks) passes arbitrary ESMTP
/// parameters: DSN's `RET`/`ENVID` on MAIL and `NOTIFY`/`ORCPT` on RCPT.
enum PythonSMTPClient {
    private static let script = """
        import json, smtplib, sys
        request = json.loads(sys.argv[1])
        with smtplib.SMTP("127.0.0.1", request["port"], local_hostname="python.example.test", timeout=30) as smtp:
            smtp.ehlo()
            refused = smtp.sendmail(
                request["from"], request["to"], request["message"].encode(),
                mail_options=request["mail"], rcpt_options=request["rcpt"])
        if refused:
            sys.exit("refused: %r" % refused)
        """

    /// Sends `message` to `127.0.0.1:port`.
    /// - Parameters:
    ///   - port: The server port.
    ///   - from: The envelope sender; empty for the null sender.
    ///   - to: The recipients.
    ///   - mailParameters: ESMTP parameters for MAIL FROM, e.g. `["RET=HDRS"]`.
    ///   - recipientParameters: ESMTP parameters for every RCPT TO, e.g. `["NOTIFY=NEVER"]`.
    ///   - message: The whole message (header and body), lines ending in CRLF.
    /// - Returns: The result; non-zero exit when the server refused something.
    /// - Throws: `HarnessError` if python3 is missing or hangs.
    static func send(
        port: UInt16,
        from: String,
        to: [String],
        mailParameters: [String] = [],
        recipientParameters: [String] = [],
        message: String
    ) async throws -> ProcessResult {
        let request: [String: Any] = [
            "port": Int(port), "from": from, "to": to,
            "mail": mailParameters, "rcpt": recipientParameters, "message": message,
        ]
        let json = String(decoding: try JSONSerialization.data(withJSONObject: request), as: UTF8.self)
        return try await ProcessRunner.run("python3", ["-c", script, json])
    }
}

/// The queue id in a `250 ... queued as ID` reply inside a client's transcript, if any.
/// - Parameter transcript: A swaks transcript or any text holding the reply.
func queuedID(in transcript: String) -> String? {
    guard let range = transcript.range(of: "queued as ") else { return nil }
    let rest = transcript[range.upperBound...]
    let id = rest.prefix { $0.isLetter || $0.isNumber }
    return id.isEmpty ? nil : String(id)
}
