import FilterCore
import Testing

@Suite struct DeliveryAddressTests {
    @Test(arguments: ["kate@example.com", "a.b+c@mail.example.org", "o'neil@example.com"])
    func acceptsPlainMailboxes(_ address: String) {
        #expect(DeliveryAddress.isValid(address))
    }

    /// U+212A KELVIN SIGN and U+1FEF GREEK VARIA are canonically equivalent to "K" and "`":
    /// compared as Characters they would pass as atext and reach MAIL FROM as non-ASCII.
    @Test(arguments: ["\u{212A}ate@example.com", "a\u{1FEF}b@example.com", "ünï@example.com", "a..b@example.com", "\"q\"@example.com"])
    func refusesNonASCIIAndMalformedLocalParts(_ address: String) {
        #expect(!DeliveryAddress.isValid(address))
    }
}
