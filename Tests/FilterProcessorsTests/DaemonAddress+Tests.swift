import Testing

@testable import FilterProcessors

@Suite struct DaemonAddressTests {
    @Test(arguments: [
        ("127.0.0.1:783", DaemonAddress.tcp(host: "127.0.0.1", port: 783), "127.0.0.1:783"),
        ("spamd.internal:10783", .tcp(host: "spamd.internal", port: 10783), "spamd.internal:10783"),
        ("[::1]:3310", .tcp(host: "::1", port: 3310), "[::1]:3310"),
        ("/var/run/clamav/clamd.ctl", .unix(path: "/var/run/clamav/clamd.ctl"), "/var/run/clamav/clamd.ctl"),
    ])
    func addressesAreParsedAndWrittenBack(text: String, address: DaemonAddress, description: String) throws {
        let parsed = try DaemonAddress(text)
        #expect(parsed == address)
        #expect(parsed.description == description)
    }

    @Test(arguments: ["", "localhost", "host:0", "host:65536", "host:port", ":783", "[::1]", "a b:783", "relative/path.sock"])
    func otherTextIsRefusedNamingTheOption(text: String) {
        #expect {
            try DaemonAddress(text, key: "spamd.address")
        } throws: { error in
            (error as? ProcessorConfigurationError)?.description.hasPrefix("spamd.address: ") == true
        }
    }
}
