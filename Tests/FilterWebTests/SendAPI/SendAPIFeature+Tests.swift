import FilterCore
import FilterWeb
import Foundation
import Testing

@Suite struct SendAPIFeatureTests {
    @Test func composesAndSubmitsAMessage() async throws {
        try await withNextHop { hop, port in
            try await withWebServer(features: [try SendAPIFixture.feature(port: port)]) { client in
                let response = try await client.send(SendAPIFixture.json([
                    "from": ["address": "sales@example.com", "name": "Jörg Müller"],
                    "to": ["bob@example.org", ["address": "carol@example.org", "name": "Carol"]],
                    "bcc": "hidden@example.net",
                    "subject": "Grüße",
                    "text": "Hallo",
                    "attachments": [["filename": "Übersicht.txt", "content_type": "text/plain", "content": Data("Inhalt".utf8).base64EncodedString()]],
                    "headers": [["name": "X-Campaign", "value": "autumn"]],
                ]))
                #expect(response.status == 201, "\(response.text)")
                #expect(response.headers["content-type"] == "application/json")
                let id = try #require(response.json["id"] as? String)
                #expect(response.json["queued"] as? [String] == ["bob@example.org", "carol@example.org", "hidden@example.net"])
                #expect(response.json["refused"] == nil)
                let received = try #require(hop.messages.first)
                #expect(received.envelope.mailFrom == "sales@example.com")
                #expect(received.envelope.recipients.map(\.address) == ["bob@example.org", "carol@example.org", "hidden@example.net"])
                let message = MIMEMessage(bytes: received.bytes)
                #expect(message.headers["Message-ID"] == id)
                #expect(message.subject == "Grüße")
                #expect(message.from.first?.displayName == "Jörg Müller")
                #expect(message.headers["Bcc"] == nil)
                #expect(message.headers["X-Campaign"] == "autumn")
                #expect(message.attachments.first?.filename == "Übersicht.txt")
                #expect(message.attachments.first?.decodedBody == Array("Inhalt".utf8))
            }
        }
    }

    @Test func withoutCredentialsTheAnswerIs401WithABearerChallenge() async throws {
        try await withWebServer(features: [try SendAPIFixture.feature(port: 1)]) { client in
            let response = try await client.send(SendAPIFixture.json(SendAPIFixture.message()), token: nil)
            #expect(response.status == 401)
            #expect(response.headers["www-authenticate"]?.hasPrefix("Bearer realm=") == true)
            #expect(response.headers["content-type"] == "application/problem+json")
            #expect(response.json["type"] as? String == "tag:filterd,2026:problems/unauthorized")
            #expect(response.json["status"] as? Int == 401)
            #expect(response.json["title"] != nil && response.json["detail"] != nil)
        }
    }

    @Test func otherMethodsOnTheMessagesResourceAre405WithAllow() async throws {
        try await withWebServer(features: [try SendAPIFixture.feature(port: 1)]) { client in
            for method in ["GET", "PUT", "DELETE", "PATCH", "QUERY"] {
                let response = try await client.request(method, "/api/v1/messages")
                #expect(response.status == 405, "\(method)")
                #expect(response.headers["allow"] == "POST")
                #expect(response.json["type"] as? String == "tag:filterd,2026:problems/method-not-allowed")
            }
        }
    }

    @Test func invalidCredentialsAre401WithInvalidToken() async throws {
        let now = Date().timeIntervalSince1970
        let tokens = [
            "not-a-known-key",
            SendAPIFixture.token(claims: ["sub": "alice@example.com", "exp": now - 3600]),
            SendAPIFixture.token(header: ["alg": "none"], claims: ["sub": "alice@example.com", "exp": now + 3600]),
            SendAPIFixture.token(claims: ["sub": "alice@example.com", "exp": now + 3600], secret: Array("another secret of at least thirty-two octets".utf8)),
        ]
        try await withWebServer(features: [try SendAPIFixture.feature(port: 1)]) { client in
            for token in tokens {
                let response = try await client.send(SendAPIFixture.json(SendAPIFixture.message()), token: token)
                #expect(response.status == 401)
                #expect(response.headers["www-authenticate"]?.contains("error=\"invalid_token\"") == true)
            }
        }
    }

    @Test func aValidJWTMaySendAsItsSubjectOnly() async throws {
        let token = SendAPIFixture.token(claims: ["sub": "jwt-user@example.com", "exp": Date().timeIntervalSince1970 + 3600])
        try await withNextHop { hop, port in
            try await withWebServer(features: [try SendAPIFixture.feature(port: port)]) { client in
                let sent = try await client.send(SendAPIFixture.json(SendAPIFixture.message(from: "jwt-user@example.com")), token: token)
                #expect(sent.status == 201, "\(sent.text)")
                let forbidden = try await client.send(SendAPIFixture.json(SendAPIFixture.message(from: "alice@example.com")), token: token)
                #expect(forbidden.status == 403)
                #expect(hop.messages.count == 1)
            }
        }
    }

    @Test func aFromTheKeyMayNotUseIs403() async throws {
        try await withWebServer(features: [try SendAPIFixture.feature(port: 1)]) { client in
            let response = try await client.send(SendAPIFixture.json(SendAPIFixture.message(from: "ceo@example.com")))
            #expect(response.status == 403)
            #expect(response.json["type"] as? String == "tag:filterd,2026:problems/forbidden-sender")
            #expect(response.headers["content-type"] == "application/problem+json")
        }
    }

    @Test func malformedJSONIs400() async throws {
        try await withWebServer(features: [try SendAPIFixture.feature(port: 1)]) { client in
            let response = try await client.send(Data("{\"from\": ".utf8))
            #expect(response.status == 400)
            #expect(response.json["type"] as? String == "tag:filterd,2026:problems/malformed-request")
        }
    }

    @Test func invalidMessagesAre422NamingEveryField() async throws {
        try await withWebServer(features: [try SendAPIFixture.feature(port: 1)]) { client in
            let invalid = try await client.send(SendAPIFixture.json([
                "from": "alice@example.com", "to": ["bob@example.org", "not an address"], "subject": "a\r\nBcc: x@example.net",
                "text": "x", "headers": [["name": "Received", "value": "forged"]],
                "attachments": [["filename": "a.bin", "content": "***"]],
            ]))
            #expect(invalid.status == 422)
            #expect(invalid.headers["content-type"] == "application/problem+json")
            #expect(invalid.json["type"] as? String == "tag:filterd,2026:problems/validation-failed")
            #expect(invalid.errorFields == ["to[1]", "subject", "headers[0].name", "attachments[0].content"])

            let misspelt = try await client.send(SendAPIFixture.json(["from": "alice@example.com", "bbc": ["x@example.org"], "text": "x"]))
            #expect(misspelt.status == 422)
            #expect(misspelt.errorFields == ["bbc"])

            let wrongType = try await client.send(SendAPIFixture.json(["from": "alice@example.com", "to": ["bob@example.org"], "text": 5]))
            #expect(wrongType.status == 422)
            #expect(wrongType.errorFields == ["text"])

            let missing = try await client.send(SendAPIFixture.json(["to": ["bob@example.org"], "text": "x"]))
            #expect(missing.status == 422)
            #expect(missing.errorFields == ["from"])
        }
    }

    @Test func aBodyOverTheLimitIs413() async throws {
        let feature = try SendAPIFixture.feature(port: 1) { $0.maximumBodyBytes = 1000 }
        try await withWebServer(features: [feature]) { client in
            var message = SendAPIFixture.message()
            message["text"] = String(repeating: "x", count: 5000)
            let response = try await client.send(SendAPIFixture.json(message))
            #expect(response.status == 413)
            #expect(response.json["type"] as? String == "tag:filterd,2026:problems/too-large")
        }
    }

    @Test func aBodyThatIsNotJSONIs415() async throws {
        try await withWebServer(features: [try SendAPIFixture.feature(port: 1)]) { client in
            let response = try await client.send(Data("from=alice".utf8), contentType: "application/x-www-form-urlencoded")
            #expect(response.status == 415)
        }
    }

    @Test func theRateLimitAnswers429WithRetryAfter() async throws {
        let feature = try SendAPIFixture.feature(port: 1) {
            $0.rateLimit = .init(perMinute: 1, burst: 2)
        }
        try await withWebServer(features: [feature]) { client in
            let body = SendAPIFixture.json(SendAPIFixture.message(from: "ceo@example.com"))
            #expect(try await client.send(body).status == 403)
            #expect(try await client.send(body).status == 403)
            let limited = try await client.send(body)
            #expect(limited.status == 429)
            #expect(limited.json["type"] as? String == "tag:filterd,2026:problems/rate-limited")
            let retryAfter = try #require(limited.headers["retry-after"].flatMap { Int($0) })
            #expect(retryAfter >= 1 && retryAfter <= 60)
            // Another key has its own bucket.
            let token = SendAPIFixture.token(claims: ["sub": "ceo@example.com", "exp": Date().timeIntervalSince1970 + 3600])
            #expect(try await client.send(body, token: token).status == 503)
        }
    }

    @Test func anUnreachableNextHopIs503() async throws {
        try await withWebServer(features: [try SendAPIFixture.feature(port: 1)]) { client in
            let response = try await client.send(SendAPIFixture.json(SendAPIFixture.message()))
            #expect(response.status == 503)
            #expect(response.json["type"] as? String == "tag:filterd,2026:problems/next-hop-unavailable")
            #expect((response.json["detail"] as? String)?.contains("127.0.0.1:1") == true)
        }
    }

    @Test func recipientsTheNextHopRefusesAreReported() async throws {
        try await withNextHop(maximumRecipients: 1) { hop, port in
            try await withWebServer(features: [try SendAPIFixture.feature(port: port)]) { client in
                var message = SendAPIFixture.message()
                message["to"] = ["bob@example.org", "carol@example.org"]
                let response = try await client.send(SendAPIFixture.json(message))
                #expect(response.status == 201, "\(response.text)")
                #expect(response.json["queued"] as? [String] == ["bob@example.org"])
                let refused = try #require(response.json["refused"] as? [[String: Any]])
                #expect(refused.first?["recipient"] as? String == "carol@example.org")
                #expect((refused.first?["reply"] as? String)?.hasPrefix("452") == true)
                #expect(hop.messages.first?.envelope.recipients.map(\.address) == ["bob@example.org"])
            }
        }
    }
}
