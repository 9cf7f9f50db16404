import FilterWeb
import Testing

@Suite struct PasswordFileTests {
    let rootHash = PasswordHash(hashing: "root-pass", iterations: 10)
    let aliceHash = PasswordHash(hashing: "alice-pass", iterations: 10)

    @Test func readsEntriesSkippingCommentsAndBlankLinesWithAnyLineEnd() throws {
        let text = "# admins\r\n\r\nroot:\(rootHash)\r\n  Alice@Example.com:\(aliceHash)  \n"
        let file = try PasswordFile(parsing: text, path: "admins")
        #expect(file.entries.count == 2)
        #expect(file.entry(for: "root")?.hash == rootHash)
        #expect(file.entry(for: "alice@example.com")?.name == "Alice@Example.com")
        #expect(file.entry(for: "ALICE@EXAMPLE.COM")?.hash == aliceHash)
        #expect(file.entry(for: "bob") == nil)
    }

    @Test func namesTheFileAndLineOfAMalformedEntry() {
        let text = "root:\(rootHash)\n\nno-hash-here\n"
        #expect {
            try PasswordFile(parsing: text, path: "/etc/filterd/admins")
        } throws: { error in
            let error = error as? ConsoleAuthError
            return error?.code == .malformedFile && error?.message.hasPrefix("/etc/filterd/admins line 3:") == true
        }
    }

    @Test func refusesABadHashAndANameListedTwice() {
        #expect(throws: ConsoleAuthError.self) { try PasswordFile(parsing: "root:pbkdf2-sha256$x$y$z\n", path: "f") }
        #expect(throws: ConsoleAuthError.self) { try PasswordFile(parsing: ":\(rootHash)\n", path: "f") }
        #expect {
            try PasswordFile(parsing: "root:\(rootHash)\nROOT:\(aliceHash)\n", path: "f")
        } throws: { error in
            (error as? ConsoleAuthError)?.message.contains("listed twice") == true
        }
    }

    @Test func aMissingFileIsUnreadable() {
        #expect {
            try PasswordFile.load(path: "/nonexistent/filterd-admins")
        } throws: { error in
            (error as? ConsoleAuthError)?.code == .unreadableFile
        }
    }
}
