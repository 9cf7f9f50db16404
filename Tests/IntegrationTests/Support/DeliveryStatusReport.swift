import Foundation

/// A DSN as an independent parser reads it: Python's `email` package (RFC 3464 structure),
/// not the composer's own code.
struct DeliveryStatusReport: Decodable, Sendable {
    /// The top-level content type, e.g. `multipart/report`.
    var contentType: String
    /// The `report-type` parameter of the top-level content type.
    var reportType: String?
    /// The top-level header fields the tests look at, by name (`Auto-Submitted`, `From`,
    /// `Return-Path`, `To`, `Subject`), when present.
    var headers: [String: String]
    /// The content types of the parts, in order.
    var partTypes: [String]
    /// The per-message fields of the `message/delivery-status` part.
    var messageFields: [String: String]
    /// The per-recipient fields, one dictionary per recipient.
    var recipientFields: [[String: String]]
    /// The text of the first part (the human-readable explanation).
    var explanation: String
    /// The last part (the returned message or its header) as text.
    var returned: String

    private static let script = """
        import email, email.policy, json, sys
        with open(sys.argv[1], "rb") as file:
            message = email.message_from_binary_file(file, policy=email.policy.compat32)
        parts = message.get_payload() if message.is_multipart() else []
        status = next((part for part in parts if part.get_content_type() == "message/delivery-status"), None)
        blocks = status.get_payload() if status is not None else []
        def fields(block):
            return {name: " ".join(str(value).split()) for name, value in block.items()}
        def text(part):
            payload = part.get_payload(decode=True)
            if payload is None:
                payload = part.as_bytes()
            return payload.decode("utf-8", "replace")
        print(json.dumps({
            "contentType": message.get_content_type(),
            "reportType": message.get_param("report-type"),
            "headers": {name: str(message[name]) for name in ("Auto-Submitted", "From", "Return-Path", "To", "Subject")
                        if message[name] is not None},
            "partTypes": [part.get_content_type() for part in parts],
            "messageFields": fields(blocks[0]) if blocks else {},
            "recipientFields": [fields(block) for block in blocks[1:]],
            "explanation": text(parts[0]) if parts else "",
            "returned": text(parts[-1]) if parts else "",
        }))
        """

    /// Parses the DSN stored in `file`.
    /// - Parameter file: A delivered message (a Maildir file).
    /// - Returns: What the parser found.
    /// - Throws: `HarnessError` if python3 fails, or whatever decoding its output throws.
    static func parse(_ file: URL) async throws -> DeliveryStatusReport {
        let result = try await ProcessRunner.run("python3", ["-c", script, file.path]).requireSuccess()
        return try JSONDecoder().decode(DeliveryStatusReport.self, from: Data(result.standardOutput.utf8))
    }
}
