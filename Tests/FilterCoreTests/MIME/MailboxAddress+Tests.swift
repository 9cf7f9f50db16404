import Testing

@testable import FilterCore

@Suite struct MailboxAddressTests {
    private static func parse(_ raw: String) -> ([MailboxAddress], [MIMEDefect.Code]) {
        var defects: [MIMEDefect] = []
        let list = MailboxAddress.parseList(raw, defects: &defects)
        return (list, defects.map(\.code))
    }

    @Test(arguments: [
        ("alice@example.com", [MailboxAddress(address: "alice@example.com")]),
        ("Alice <alice@example.com>", [MailboxAddress(displayName: "Alice", address: "alice@example.com")]),
        ("\"Doe, John\" <j@x.org>, bob@y.org", [
            MailboxAddress(displayName: "Doe, John", address: "j@x.org"), MailboxAddress(address: "bob@y.org"),
        ]),
        // RFC 5322 Appendix A.1.2 and A.1.3.
        ("Mary Smith <mary@x.test>, jdoe@example.org, Who? <one@y.test>", [
            MailboxAddress(displayName: "Mary Smith", address: "mary@x.test"),
            MailboxAddress(address: "jdoe@example.org"),
            MailboxAddress(displayName: "Who?", address: "one@y.test"),
        ]),
        ("<boss@nil.test>, \"Giant; \\\"Big\\\" Box\" <sysservices@example.net>", [
            MailboxAddress(address: "boss@nil.test"),
            MailboxAddress(displayName: "Giant; \"Big\" Box", address: "sysservices@example.net"),
        ]),
        ("A Group:Ed Jones <c@a.test>,joe@where.test,John <jdoe@one.test>;", [
            MailboxAddress(displayName: "Ed Jones", address: "c@a.test"),
            MailboxAddress(address: "joe@where.test"),
            MailboxAddress(displayName: "John", address: "jdoe@one.test"),
        ]),
        ("Undisclosed recipients:;", []),
        // RFC 5322 Appendix A.5: comments and folding white space.
        ("Pete(A nice \\) chap) <pete(his account)@silly.test(his host)>", [
            MailboxAddress(displayName: "Pete", address: "pete@silly.test"),
        ]),
        ("John Q. Public <jqp@example.com>", [MailboxAddress(displayName: "John Q. Public", address: "jqp@example.com")]),
        ("\"very.(),:;<>[]\\\".VERY.\\\"very@\\\\ \\\"very\\\".unusual\"@strange.example.com", [
            MailboxAddress(address: "\"very.(),:;<>[]\\\".VERY.\\\"very@\\\\ \\\"very\\\".unusual\"@strange.example.com"),
        ]),
        ("\"plain\"@example.com", [MailboxAddress(address: "plain@example.com")]),
        ("user@[192.0.2.1]", [MailboxAddress(address: "user@[192.0.2.1]")]),
        ("=?utf-8?q?Ren=C3=A9e?= =?utf-8?q?_D?= <r@x>", [MailboxAddress(displayName: "Renée D", address: "r@x")]),
        ("\"=?utf-8?b?w6k=?=\" <e@x>", [MailboxAddress(displayName: "é", address: "e@x")]),
        ("<>", []),
        ("", []),
    ])
    func parses(raw: String, expected: [MailboxAddress]) {
        #expect(Self.parse(raw) == (expected, []))
    }

    @Test func recoversFromGarbage() {
        let (list, defects) = Self.parse("<a@x, b@y, Name <c@z>>, postmaster, @@, d@w")
        #expect(list.map(\.address) == ["a@x", "b@y", "c@z", "postmaster", "d@w"])
        #expect(!defects.isEmpty)
        #expect(defects.allSatisfy { $0 == .invalidAddress })
    }
}
