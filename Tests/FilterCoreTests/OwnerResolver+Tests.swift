import Testing

@testable import FilterCore

@Suite struct OwnerResolverTests {
    @Test(arguments: [
        ("Alice@Example.COM", "alice@example.com"),
        ("alice+lists@example.com", "alice@example.com"),
        ("+weird@example.com", "+weird@example.com"),
        ("j.smith@example.com", "j.smith@example.com"),
        ("postmaster", "postmaster"),
    ])
    func canonicalizes(recipient: String, owner: String) {
        #expect(OwnerResolver().owner(of: recipient) == owner)
    }

    @Test func appliesAliasesAfterStripping() {
        let resolver = OwnerResolver(delimiters: ["+", "-"], aliases: ["sales@example.com": "a+b@example.com"])
        #expect(resolver.owner(of: "Sales-EU@example.com") == "a+b@example.com")
    }
}
