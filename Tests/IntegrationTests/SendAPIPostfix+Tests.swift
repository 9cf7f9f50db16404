import FilterProcessors
import FilterSMTP
import FilterWeb
import Foundation
import Logging
import NIOCore
import ServiceLifecycle
import Testing

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// The send API end to end: JSON over HTTP → composed message → the private Postfix's public
/// smtpd → a Maildir, checked with Python's `email` package rather than the composer's own
/// MIME code.
@Suite("Send API into Postfix", .enabled(if: Repository.integrationEnabled), .serialized)
struct SendAPIPostfixTests {
    static let key = "integration-key-\(UUID().uuidString)"

    @Test("a message with non-ASCII names, subject and attachment arrives decodable; refused recipients are reported")
    func nonASCIIMessageWithAttachmentArrives() async throws {
        try await PostfixInstance.withRunningInstance(filter: false) { postfix in
            try await Self.withSendAPI(nextHopPort: postfix.smtpPort) { send in
                let token = UUID().uuidString
                let attachment = (0..<3000).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
                let subject = "Grüße aus Köln – 東京 \(token)"
                let response = try await send([
                    "from": ["address": "sender@example.test", "name": "Jörg Müller-Lüdenscheidt"],
                    "to": [["address": "anna@example.test", "name": "Anna Ångström"], "nobody-\(token.prefix(8))@localhost.localdomain"],
                    "bcc": ["hidden@example.test"],
                    "subject": subject,
                    "text": "Hallo Anna,\nanbei die Übersicht.\n",
                    "html": "<p>Hallo Anna, anbei die <b>Übersicht</b>.</p>",
                    "attachments": [["filename": "Übersicht März.bin", "content_type": "application/octet-stream", "content": Data(attachment).base64EncodedString()]],
                ])
                #expect(response.status == 201, "\(response.body)")
                let id = try #require(response.json["id"] as? String)
                #expect(response.json["queued"] as? [String] == ["anna@example.test", "hidden@example.test"])
                let refused = response.json["refused"] as? [[String: Any]] ?? []
                #expect(refused.count == 1)
                #expect((refused.first?["reply"] as? String)?.hasPrefix("550") == true, "\(refused)")

                let delivered = try #require(try await postfix.waitForMaildir(user: "anna", count: 1, timeout: .seconds(60)).first)
                let parsed = try await ParsedMessage.parse(delivered.url)
                #expect(parsed.subject == subject)
                #expect(parsed.fromName == "Jörg Müller-Lüdenscheidt")
                #expect(parsed.fromAddress == "sender@example.test")
                #expect(parsed.toNames == ["Anna Ångström", ""])
                #expect(parsed.messageID == id)
                #expect(parsed.contentType == "multipart/mixed")
                #expect(parsed.hasBcc == false)
                #expect(parsed.text == "Hallo Anna,\nanbei die Übersicht.\n")
                #expect(parsed.attachments.map(\.filename) == ["Übersicht März.bin"])
                #expect(parsed.attachments.first?.base64 == Data(attachment).base64EncodedString())
                #expect(parsed.defects.isEmpty, "\(parsed.defects)")

                let hidden = try await postfix.waitForMaildir(user: "hidden", count: 1, timeout: .seconds(60))
                #expect(hidden.first?.headerValue("Message-ID") == id)
            }
        }
    }

    @Test("a message every recipient of which the next hop refuses is a 502 problem with the replies")
    func everyRecipientRefusedIs502() async throws {
        try await PostfixInstance.withRunningInstance(filter: false) { postfix in
            try await Self.withSendAPI(nextHopPort: postfix.smtpPort) { send in
                let response = try await send([
                    "from": "sender@example.test", "to": ["nobody-at-all@localhost.localdomain"], "subject": "x", "text": "x",
                ])
                #expect(response.status == 502)
                #expect(response.json["type"] as? String == "tag:filterd,2026:problems/next-hop-refused")
                let refused = response.json["refused"] as? [[String: Any]] ?? []
                #expect(refused.first?["recipient"] as? String == "nobody-at-all@localhost.localdomain")
                #expect((response.json["detail"] as? String)?.contains("550") == true)
            }
        }
    }

    /// What one POST answered.
    struct Answer: Sendable {
        var status: Int
        var body: String
        var json: [String: Any] { (try? JSONSerialization.jsonObject(with: Data(body.utf8))) as? [String: Any] ?? [:] }
    }

    /// Runs the send API on a free loopback port, submitting to `127.0.0.1:nextHopPort` with
    /// a key that may send as sender@example.test, and hands `body` a function that POSTs a
    /// JSON request with that key.
    static func withSendAPI(
        nextHopPort: UInt16, _ body: (@Sendable ([String: Any]) async throws -> Answer) async throws -> Void
    ) async throws {
        let logger = Logger(label: "test.send-api")
        var configuration = SendAPIConfiguration(hostname: "api.example.test")
        configuration.submission.port = Int(nextHopPort)
        let keys = try APIKeyStore(
            parsing: "integration \(Digest.hex(Digest.sha256(Array(key.utf8)))) sender@example.test", file: "keys")
        let feature = SendAPIFeature(configuration: configuration, keys: keys, jwt: nil, logger: logger)
        let server = WebServer(listener: WebListener(host: "127.0.0.1", port: 0), features: [feature], logger: logger)
        let group = ServiceGroup(services: [server], logger: logger)
        let task = Task { try await group.run() }
        defer { task.cancel() }
        var addresses = server.listeningAddresses.makeAsyncIterator()
        guard let port = await addresses.next()?.port else {
            throw HarnessError(code: .processFailed, message: "the send API did not listen")
        }
        let url = URL(string: "http://127.0.0.1:\(port)/api/v1/messages")!
        try await body { object in
            var request = URLRequest(url: url, timeoutInterval: 120)
            request.httpMethod = "POST"
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
            request.setValue("Bearer \(key)", forHTTPHeaderField: "Authorization")
            request.httpBody = try JSONSerialization.data(withJSONObject: object)
            let (data, response) = try await URLSession.shared.data(for: request)
            return Answer(status: (response as? HTTPURLResponse)?.statusCode ?? 0, body: String(decoding: data, as: UTF8.self))
        }
        await group.triggerGracefulShutdown()
        try await task.value
    }
}

/// A delivered message as Python's `email` package (modern policy) reads it.
struct ParsedMessage: Decodable, Sendable {
    struct Attachment: Decodable, Sendable {
        var filename: String?
        var base64: String
    }

    var subject: String
    var fromName: String
    var fromAddress: String
    var toNames: [String]
    var messageID: String
    var contentType: String
    var hasBcc: Bool
    var text: String
    var attachments: [Attachment]
    var defects: [String]

    private static let script = """
        import base64, email, email.policy, json, sys
        with open(sys.argv[1], "rb") as file:
            message = email.message_from_binary_file(file, policy=email.policy.default)
        sender = message["From"].addresses[0]
        defects = [repr(d) for part in message.walk() for d in part.defects]
        defects += [repr(d) for name in ("Subject", "From", "To") for d in message[name].defects]
        print(json.dumps({
            "subject": str(message["Subject"]),
            "fromName": sender.display_name,
            "fromAddress": sender.addr_spec,
            "toNames": [a.display_name for a in message["To"].addresses],
            "messageID": str(message["Message-ID"]),
            "contentType": message.get_content_type(),
            "hasBcc": message["Bcc"] is not None,
            "text": message.get_body(("plain",)).get_content(),
            "attachments": [{"filename": part.get_filename(),
                             "base64": base64.b64encode(part.get_payload(decode=True)).decode()}
                            for part in message.iter_attachments()],
            "defects": defects,
        }))
        """

    /// Parses the message stored in `file`.
    static func parse(_ file: URL) async throws -> ParsedMessage {
        let result = try await ProcessRunner.run("python3", ["-c", script, file.path]).requireSuccess()
        return try JSONDecoder().decode(ParsedMessage.self, from: Data(result.standardOutput.utf8))
    }
}
