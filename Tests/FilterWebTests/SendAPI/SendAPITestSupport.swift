import FilterProcessors
import FilterSMTP
import FilterWeb
import Foundation
import Logging

/// Credentials and requests shared by the send API tests.
enum SendAPIFixture {
    static let aliceKey = "alice-test-key-0123456789abcdef"
    static let jwtSecret = Array("a shared secret of at least thirty-two octets".utf8)

    /// A keys file with Alice's key, allowed to send as herself and as sales@.
    static var keys: APIKeyStore {
        get throws {
            try APIKeyStore(
                parsing: "# test keys\nalice-crm \(Digest.hex(Digest.sha256(Array(aliceKey.utf8)))) alice@example.com alice@example.com,sales@example.com\n",
                file: "keys")
        }
    }

    /// A send API submitting to `127.0.0.1:port`.
    static func feature(port: Int, configure: (inout SendAPIConfiguration) -> Void = { _ in }) throws -> SendAPIFeature {
        var configuration = SendAPIConfiguration(hostname: "api.example.com")
        configuration.submission.port = port
        configure(&configuration)
        return SendAPIFeature(
            configuration: configuration, keys: try keys, jwt: JWTVerifier(secret: jwtSecret),
            logger: Logger(label: "test.send") { _ in SwiftLogNoOpLogHandler() })
    }

    /// `header.claims.signature` signed with `secret` (HS256 unless the header says otherwise).
    static func token(header: [String: Any] = ["alg": "HS256", "typ": "JWT"], claims: [String: Any], secret: [UInt8] = jwtSecret) -> String {
        let head = base64URL(try! JSONSerialization.data(withJSONObject: header))
        let body = base64URL(try! JSONSerialization.data(withJSONObject: claims))
        let signature = base64URL(Data(Digest.hmacSHA256(Array("\(head).\(body)".utf8), key: secret)))
        return "\(head).\(body).\(signature)"
    }

    static func base64URL(_ data: Data) -> String {
        data.base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    /// A JSON body.
    static func json(_ object: [String: Any]) -> Data {
        try! JSONSerialization.data(withJSONObject: object)
    }

    /// A small valid request from `from`.
    static func message(from: Any = "alice@example.com") -> [String: Any] {
        ["from": from, "to": ["bob@example.org"], "subject": "hi", "text": "hello"]
    }
}

extension HTTPTestClient {
    /// `POST /api/v1/messages` with `body` as JSON and the bearer `token`, if any.
    func send(_ body: Data, token: String? = SendAPIFixture.aliceKey, contentType: String = "application/json") async throws -> HTTPTestResponse {
        var headers = ["Content-Type": contentType]
        if let token { headers["Authorization"] = "Bearer \(token)" }
        return try await request("POST", "/api/v1/messages", headers: headers, body: body)
    }
}

extension HTTPTestResponse {
    /// The body as a JSON object.
    var json: [String: Any] {
        (try? JSONSerialization.jsonObject(with: body)) as? [String: Any] ?? [:]
    }

    /// The `field` of each entry of the problem's `errors`.
    var errorFields: [String] {
        (json["errors"] as? [[String: Any]] ?? []).compactMap { $0["field"] as? String }
    }
}
