import Testing

@testable import FilterProcessors

@Suite struct DigestTests {
    /// RFC 4231 §4.2, §4.3 and §4.7, and an empty message.
    @Test(arguments: [
        (Array(repeating: UInt8(0x0b), count: 20), "Hi There", "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"),
        (Array("Jefe".utf8), "what do ya want for nothing?", "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"),
        (Array(repeating: UInt8(0xaa), count: 131), "Test Using Larger Than Block-Size Key - Hash Key First",
         "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"),
        (Array("key".utf8), "", "5d5d139563c95b5967b9bd9a8c9b233a9dedb45072794cd232dc1b74832607d0"),
    ])
    func hmacSHA256MatchesTheTestVectors(key: [UInt8], message: String, expected: String) {
        #expect(Digest.hex(Digest.hmacSHA256(Array(message.utf8), key: key)) == expected)
    }

    /// FIPS 180-4 example "abc", and the empty message.
    @Test func sha256MatchesTheExamples() {
        #expect(Digest.hex(Digest.sha256(Array("abc".utf8))) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(Digest.hex(Digest.sha256([])) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    }
}
