import FilterWeb
import Foundation
import Testing

@Suite struct JWTVerifierTests {
    let verifier = JWTVerifier(secret: SendAPIFixture.jwtSecret, clockSkew: .seconds(60))
    let now = Date(timeIntervalSince1970: 1_800_000_000)
    var time: Double { now.timeIntervalSince1970 }

    private func reason(_ token: String) -> String? {
        do {
            _ = try verifier.verify(token, now: now)
            return nil
        } catch {
            return error.reason
        }
    }

    @Test func aValidTokenAllowsItsSubject() throws {
        let token = SendAPIFixture.token(claims: ["sub": "Alice@example.com", "exp": time + 60, "nbf": time - 10, "iat": time - 10])
        let credential = try verifier.verify(token, now: now)
        #expect(credential.mayUse(sender: "alice@example.com"))
        #expect(!credential.mayUse(sender: "bob@example.com"))
        #expect(credential.name == "jwt:alice@example.com")
    }

    @Test func expiryIsRequiredAndHonouredWithTheSkew() {
        #expect(reason(SendAPIFixture.token(claims: ["sub": "a@example.com"])) == "the token has no exp claim")
        #expect(reason(SendAPIFixture.token(claims: ["sub": "a@example.com", "exp": time - 61])) == "the token has expired")
        #expect(reason(SendAPIFixture.token(claims: ["sub": "a@example.com", "exp": time - 30])) == nil)
        #expect(reason(SendAPIFixture.token(claims: ["sub": "a@example.com", "exp": "\(time + 60)"])) != nil)
    }

    @Test func notBeforeAndIssuedAtAreHonoured() {
        #expect(reason(SendAPIFixture.token(claims: ["sub": "a@example.com", "exp": time + 600, "nbf": time + 120])) == "the token is not valid yet (nbf)")
        #expect(reason(SendAPIFixture.token(claims: ["sub": "a@example.com", "exp": time + 600, "iat": time + 120])) == "the token was issued in the future (iat)")
    }

    @Test(arguments: ["none", "HS384", "HS512", "RS256", "ES256", "hs256"])
    func onlyHS256IsAccepted(algorithm: String) {
        let token = SendAPIFixture.token(header: ["alg": algorithm], claims: ["sub": "a@example.com", "exp": time + 60])
        #expect(reason(token) == "the token's algorithm must be HS256")
    }

    @Test func anUnsignedNoneTokenIsRefused() {
        let head = SendAPIFixture.base64URL(Data(#"{"alg":"none"}"#.utf8))
        let body = SendAPIFixture.base64URL(Data(#"{"sub":"a@example.com","exp":9999999999}"#.utf8))
        #expect(reason("\(head).\(body).") != nil)
    }

    @Test func aBadSignatureIsRefused() {
        let foreign = SendAPIFixture.token(claims: ["sub": "a@example.com", "exp": time + 60], secret: Array("a different secret of at least 32 octets".utf8))
        #expect(reason(foreign) == "the token's signature is not valid")
        let token = SendAPIFixture.token(claims: ["sub": "a@example.com", "exp": time + 60])
        for position in [token.index(after: token.lastIndex(of: ".")!), token.index(before: token.endIndex)] {
            var tampered = token
            tampered.replaceSubrange(position...position, with: token[position] == "A" ? "B" : "A")
            #expect(reason(tampered) != nil, "\(tampered)")
        }
    }

    @Test func theSubjectMustBeAnAddress() {
        #expect(reason(SendAPIFixture.token(claims: ["exp": time + 60])) == "the token's sub claim must be the sender's address")
        #expect(reason(SendAPIFixture.token(claims: ["sub": "alice", "exp": time + 60])) == "the token's sub claim must be the sender's address")
    }

    @Test func malformedTokensAreRefused() {
        #expect(reason("a.b") != nil)
        #expect(reason("a.b.c.d") != nil)
        #expect(reason("!!.??.**") != nil)
        #expect(reason(SendAPIFixture.token(header: ["alg": "HS256", "crit": ["exp"]], claims: ["sub": "a@example.com", "exp": time + 60])) != nil)
    }

    @Test func aShortSecretFileIsRefused() throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("jwt-\(UUID().uuidString)")
        try Data("short\n".utf8).write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        #expect(throws: SendAPIError.self) { try JWTVerifier(secretFile: file.path) }
    }
}
