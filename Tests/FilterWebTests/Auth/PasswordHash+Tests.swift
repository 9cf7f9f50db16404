import FilterWeb
import Foundation
import Testing

@Suite struct PasswordHashTests {
    /// RFC 7914 §11, the PBKDF2-HMAC-SHA256 test vectors.
    @Test(arguments: [
        (
            "passwd", "salt", 1,
            "55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c20dacbc49ca9cccf179b645991664b39d77ef317c71b845b1e30bd509112041d3a19783"
        ),
        (
            "Password", "NaCl", 80000,
            "4ddcd8f60b98be21830cee5ef22701f9641a4418d04c0414aeff08876b34ab56a1d425a1225833549adb841b51c9b3176a272bdebba1d078478f62b397f33c8d"
        ),
    ])
    func derivesTheRFC7914Vectors(password: String, salt: String, iterations: Int, expected: String) {
        let hash = PasswordHash(hashing: password, salt: Array(salt.utf8), iterations: iterations, length: 64)
        #expect(hash.hash.map { String(format: "%02x", $0) }.joined() == expected)
    }

    @Test func storedFormRoundTripsAndMatchesOnlyThePassword() throws {
        let hash = PasswordHash(hashing: "correct horse", iterations: 1000)
        #expect(hash.salt.count == PasswordHash.saltLength)
        #expect(hash.hash.count == PasswordHash.hashLength)
        let text = hash.description
        #expect(text.hasPrefix("pbkdf2-sha256$1000$"))
        let parsed = try PasswordHash(parsing: text)
        #expect(parsed == hash)
        #expect(parsed.matches("correct horse"))
        #expect(!parsed.matches("correct horse "))
        #expect(!parsed.matches(""))
    }

    @Test func freshHashesHaveFreshSalts() {
        #expect(PasswordHash(hashing: "same", iterations: 1).salt != PasswordHash(hashing: "same", iterations: 1).salt)
    }

    @Test func defaultIterationsFollowOWASP() {
        #expect(PasswordHash.defaultIterations == 600_000)
    }

    @Test(arguments: [
        "", "pbkdf2-sha256", "md5$1000$c2FsdA==$aGFzaA==", "pbkdf2-sha256$0$c2FsdA==$aGFzaA==",
        "pbkdf2-sha256$many$c2FsdA==$aGFzaA==", "pbkdf2-sha256$1000$not base64!$aGFzaA==",
        "pbkdf2-sha256$1000$c2FsdA==$", "pbkdf2-sha256$1000$c2FsdA==$aGFzaA==$extra",
        "pbkdf2-sha256$100000001$c2FsdA==$aGFzaA==",
    ])
    func refusesMalformedHashes(text: String) {
        #expect(throws: ConsoleAuthError.self) { try PasswordHash(parsing: text) }
    }
}
