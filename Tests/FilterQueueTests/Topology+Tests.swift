import Testing

@testable import FilterQueue

@Suite struct TopologyTests {
    @Test(arguments: [
        ("alice@example.com", #"^mailfilter\.user\.alice@example\.com$"#),
        ("j.smith@example.com", #"^mailfilter\.user\.j\.smith@example\.com$"#),
        ("a+b@example.com", #"^mailfilter\.user\.a\+b@example\.com$"#),
        ("x|y@example.com", #"^mailfilter\.user\.x\|y@example\.com$"#),
        ("q*?{}^$@example.com", #"^mailfilter\.user\.q\*\?\{\}\^\$@example\.com$"#),
    ])
    func readPermissionEscapesEveryMetacharacter(owner: String, expected: String) throws {
        #expect(try Topology.readPermission(owner: owner) == expected)
    }

    @Test func writeAndConfigurePermissions() {
        #expect(Topology.writePermission == #"^mailfilter\.replies$"#)
        #expect(Topology.configurePermission == "^$")
    }

    @Test func refusesQueueNamesOver255Octets() throws {
        let longest = String(repeating: "a", count: 255 - "mailfilter.user.".count - "@x".count) + "@x"
        #expect(try Topology.requestQueue(owner: longest).utf8.count == 255)
        #expect(throws: TopologyError.self) { try Topology.requestQueue(owner: "a" + longest) }
    }
}
