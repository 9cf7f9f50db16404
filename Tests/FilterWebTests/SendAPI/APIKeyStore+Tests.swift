import FilterProcessors
import FilterWeb
import Testing

@Suite struct APIKeyStoreTests {
    let hash = Digest.hex(Digest.sha256(Array("secret-key".utf8)))

    @Test func keysAreLookedUpByTheirHash() throws {
        let store = try APIKeyStore(parsing: "crm \(hash.uppercased()) alice@example.com alice@example.com,Sales@example.com # comment\n\n", file: "keys")
        let credential = try #require(store.credential(forKey: "secret-key"))
        #expect(credential.name == "crm")
        #expect(credential.owner == "alice@example.com")
        #expect(credential.mayUse(sender: "sales@example.com"))
        #expect(!credential.mayUse(sender: "bob@example.com"))
        #expect(store.credential(forKey: "secret-ke") == nil)
        #expect(store.credential(forKey: hash) == nil)
    }

    @Test func theOwnerIsTheDefaultSender() throws {
        let store = try APIKeyStore(parsing: "crm \(hash) alice@example.com", file: "keys")
        #expect(store.credential(forKey: "secret-key")?.allowedSenders == ["alice@example.com"])
    }

    @Test(arguments: [
        "crm \(String(repeating: "0", count: 63)) alice@example.com",
        "crm zz alice@example.com",
        "crm 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08 alice",
        "crm 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08 alice@example.com bad,also-bad",
        "crm 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
        "crm 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08 a@example.com\ncrm 0f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08 a@example.com",
    ])
    func badLinesAreRefusedWithTheirLine(text: String) {
        #expect(throws: SendAPIError.self) { try APIKeyStore(parsing: text, file: "keys") }
        do {
            _ = try APIKeyStore(parsing: text, file: "keys")
        } catch {
            #expect(error.description.hasPrefix("keys:\(text.contains("\n") ? 2 : 1): "))
        }
    }
}
