import Testing

@testable import FilterCore

@Suite struct XTextTests {
    @Test(arguments: [
        ("a+b@example.com", "a+2Bb@example.com"),
        ("plain", "plain"),
        ("x=y z", "x+3Dy+20z"),
    ])
    func roundTrip(decoded: String, encoded: String) {
        #expect(XText.encode(decoded) == encoded)
        #expect(XText.decode(encoded) == decoded)
    }

    @Test(arguments: ["+", "+4", "+ZZ", "a b", "a=b"])
    func rejectsMalformed(_ text: String) {
        #expect(XText.decode(text) == nil)
    }
}
