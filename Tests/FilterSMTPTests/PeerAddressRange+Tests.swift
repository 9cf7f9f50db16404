import FilterSMTP
import NIOCore
import Testing

struct RangeFixture: Sendable, CustomTestStringConvertible {
    let range: String
    let address: String
    let contains: Bool

    var testDescription: String { "\(range) \(contains ? "contains" : "excludes") \(address)" }
}

@Suite("PeerAddressRange")
struct PeerAddressRangeTests {
    static let fixtures: [RangeFixture] = [
        RangeFixture(range: "127.0.0.0/8", address: "127.0.0.1", contains: true),
        RangeFixture(range: "127.0.0.0/8", address: "127.255.255.254", contains: true),
        RangeFixture(range: "127.0.0.0/8", address: "128.0.0.1", contains: false),
        RangeFixture(range: "192.0.2.1", address: "192.0.2.1", contains: true),
        RangeFixture(range: "192.0.2.1", address: "192.0.2.2", contains: false),
        RangeFixture(range: "192.0.2.1/32", address: "192.0.2.1", contains: true),
        RangeFixture(range: "10.0.0.0/9", address: "10.127.255.255", contains: true),
        RangeFixture(range: "10.0.0.0/9", address: "10.128.0.0", contains: false),
        RangeFixture(range: "192.0.2.128/25", address: "192.0.2.200", contains: true),
        RangeFixture(range: "192.0.2.128/25", address: "192.0.2.100", contains: false),
        RangeFixture(range: "198.51.100.7/30", address: "198.51.100.4", contains: true),
        RangeFixture(range: "198.51.100.7/30", address: "198.51.100.8", contains: false),
        RangeFixture(range: "0.0.0.0/0", address: "203.0.113.9", contains: true),
        RangeFixture(range: "0.0.0.0/0", address: "::1", contains: false),
        // IPv6.
        RangeFixture(range: "::1", address: "::1", contains: true),
        RangeFixture(range: "::1/128", address: "::2", contains: false),
        RangeFixture(range: "[::1]/128", address: "::1", contains: true),
        RangeFixture(range: "[::1]", address: "::1", contains: true),
        RangeFixture(range: "2001:db8::/32", address: "2001:db8:ffff::1", contains: true),
        RangeFixture(range: "2001:db8::/32", address: "2001:db9::1", contains: false),
        RangeFixture(range: "2001:db8:0:8000::/49", address: "2001:db8:0:ffff::1", contains: true),
        RangeFixture(range: "2001:db8:0:8000::/49", address: "2001:db8:0:7fff::1", contains: false),
        RangeFixture(range: "::/0", address: "2001:db8::1", contains: true),
        RangeFixture(range: "::/0", address: "127.0.0.1", contains: false),
        RangeFixture(range: "::1", address: "127.0.0.1", contains: false),
        // IPv4-mapped IPv6 peers (a dual-stack listener) match IPv4 networks.
        RangeFixture(range: "127.0.0.0/8", address: "::ffff:127.0.0.1", contains: true),
        RangeFixture(range: "192.0.2.0/24", address: "::ffff:192.0.2.77", contains: true),
        RangeFixture(range: "192.0.2.0/24", address: "::ffff:198.51.100.1", contains: false),
        RangeFixture(range: "127.0.0.0/8", address: "::127.0.0.1", contains: false),
    ]

    @Test("membership", arguments: fixtures)
    func membership(_ fixture: RangeFixture) throws {
        let range = try #require(PeerAddressRange(fixture.range))
        let address = try SocketAddress(ipAddress: fixture.address, port: 25)
        #expect(range.contains(address) == fixture.contains)
    }

    @Test(
        "bad input is refused",
        arguments: [
            "", "localhost", "1.2.3", "1.2.3.4.5", "256.0.0.1", "1.2.3.4/", "1.2.3.4/33", "1.2.3.4/-1", "1.2.3.4/x",
            "::1/129", "::g", "[::1", "1.2.3.4/8/8", "1.2.3.4/+8", " 1.2.3.4", "2001:db8::/", "[1.2.3.4]x",
        ])
    func badInput(_ text: String) {
        #expect(PeerAddressRange(text) == nil)
    }

    @Test("description shows the network and prefix")
    func description() throws {
        #expect(try #require(PeerAddressRange("10.1.2.3/8")).description == "10.1.2.3/8")
        #expect(try #require(PeerAddressRange("192.0.2.1")).description == "192.0.2.1/32")
        #expect(try #require(PeerAddressRange("::1")).description == "0:0:0:0:0:0:0:1/128")
    }

    @Test("the loopback default admits both loopback addresses and nothing else")
    func loopback() throws {
        let ranges = PeerAddressRange.loopback
        #expect(ranges.contains { $0.contains(try! SocketAddress(ipAddress: "127.0.0.1", port: 1)) })
        #expect(ranges.contains { $0.contains(try! SocketAddress(ipAddress: "::1", port: 1)) })
        #expect(!ranges.contains { $0.contains(try! SocketAddress(ipAddress: "192.0.2.1", port: 1)) })
        #expect(!ranges.contains { $0.contains(try! SocketAddress(ipAddress: "::2", port: 1)) })
    }

    @Test("a Unix socket peer is never contained")
    func unixSocket() throws {
        let address = try SocketAddress(unixDomainSocketPath: "/tmp/peer")
        #expect(!PeerAddressRange.loopback.contains { $0.contains(address) })
    }
}
