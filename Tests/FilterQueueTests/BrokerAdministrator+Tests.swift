import Foundation
import Testing

@testable import FilterQueue

/// Checks that need no broker: names, escaping and refusals happen before any request.
@Suite struct BrokerAdministratorRulesTests {
    /// An administrator whose API is unreachable: a test passing with it sent nothing.
    private let offline = BrokerAdministrator(
        client: ManagementClient(
            endpoint: ManagementEndpoint(url: URL(string: "http://127.0.0.1:1")!, username: "nobody", password: "x")))

    @Test(arguments: [
        ("alice@example.com", #"^mailfilter\.(user|events)\.alice@example\.com$"#),
        ("j.smith@example.com", #"^mailfilter\.(user|events)\.j\.smith@example\.com$"#),
        ("a+b@example.com", #"^mailfilter\.(user|events)\.a\+b@example\.com$"#),
        ("x|y@example.com", #"^mailfilter\.(user|events)\.x\|y@example\.com$"#),
    ])
    func ownerPermissionsEscapeTheAddress(owner: String, read: String) throws {
        let permissions = try BrokerAdministrator.ownerPermissions(owner: owner)
        #expect(permissions == BrokerPermissions(configure: "^$", write: #"^mailfilter\.replies$"#, read: read))
    }

    @Test func serverPermissions() {
        #expect(
            BrokerAdministrator.serverPermissions(serverID: "mx-1")
                == BrokerPermissions(
                    configure: #"^mailfilter\.server\.mx\-1$"#,
                    write: #"^(mailfilter\.requests|mailfilter\.events|mailfilter\.server\.mx\-1)$"#,
                    read: #"^(mailfilter\.replies|mailfilter\.server\.mx\-1)$"#))
    }

    @Test func ownersAreLowercasedButKeepTheirExtension() {
        #expect(BrokerAdministrator.canonicalOwner("J.Smith+Lists@Example.COM") == "j.smith+lists@example.com")
    }

    @Test func overLongOwnerIsRefusedBeforeAnyRequest() async {
        // "mailfilter.events." is 18 octets: 237 octets of owner is the most both queues allow.
        let longest = String(repeating: "a", count: 237 - "@x".count) + "@x"
        #expect(throws: Never.self) { try BrokerAdministrator.ownerPermissions(owner: longest) }
        let error = await #expect(throws: BrokerAdminError.self) {
            try await offline.addUser(owner: "a" + longest, password: "pw")
        }
        #expect(error?.code == .invalidOwner)
        #expect(error?.message.contains("255") == true)
    }

    @Test(arguments: ["", "a b@example.com", "a\r\n@example.com", "a.*.b@example.com", "#.b@example.com", "a@example.#"])
    func unusableOwnersAreRefused(owner: String) async {
        let error = await #expect(throws: BrokerAdminError.self) {
            try await offline.addUser(owner: owner, password: "pw")
        }
        #expect(error?.code == .invalidOwner)
    }

    @Test(arguments: ["", "mx 1", "mx/1", String(repeating: "m", count: 238)])
    func unusableServerIDsAreRefused(serverID: String) async {
        let error = await #expect(throws: BrokerAdminError.self) {
            try await offline.setup(serverID: serverID, serverUser: "filterd", serverPassword: "pw")
        }
        #expect(error?.code == .invalidServerID)
    }
}

/// Against the real broker: what the administrator creates, read back through the API.
@Suite(.enabled(if: TestBroker.enabled)) struct BrokerAdministratorTests {
    private func administrator() async throws -> BrokerAdministrator {
        let endpoint = ManagementEndpoint(
            url: URL(string: "http://127.0.0.1:\(TestBroker.managementPort)")!,
            username: TestBroker.adminUser,
            password: try await TestBroker.start())
        return BrokerAdministrator(client: ManagementClient(endpoint: endpoint))
    }

    private static func unique() -> String { String(UUID().uuidString.prefix(8)).lowercased() }

    @Test func setupIsIdempotent() async throws {
        let admin = try await administrator()
        let serverID = "test-\(Self.unique())"
        let user = "filterd-\(serverID)"
        try await cleaningUp { await Self.removeServer(admin, serverID: serverID, user: user) } body: {
            let first = try await admin.setup(serverID: serverID, serverUser: user, serverPassword: "pw-1")
            let second = try await admin.setup(serverID: serverID, serverUser: user, serverPassword: "pw-1")
            // Not the warnings: a test running beside this one may add an impersonator meanwhile.
            #expect(first.replyQueue == second.replyQueue && first.serverPermissions == second.serverPermissions)

            for (name, type) in [("mailfilter.requests", "direct"), ("mailfilter.replies", "direct"), ("mailfilter.events", "topic")] {
                let exchange = try #require(try await admin.client.get(ExchangeInfo.self, ["exchanges", "/", name]))
                #expect(exchange.type == type && exchange.durable && !exchange.auto_delete)
            }
            let queue = "mailfilter.server.\(serverID)"
            #expect(first.replyQueue == queue)
            #expect(try await admin.client.get(QueueInfo.self, ["queues", "/", queue])?.durable == true)
            let bindings = try await admin.client.get([BindingInfo].self, ["bindings", "/", "e", "mailfilter.replies", "q", queue])
            #expect(bindings?.map(\.routing_key) == [serverID])
            let policy = try #require(try await admin.client.get(PolicyInfo.self, ["policies", "/", queue]))
            #expect(policy.pattern == "^mailfilter\\.server\\.\(Topology.escapeRegex(serverID))$")
            #expect(policy.definition == PolicyInfo.Definition(messageTTL: 3_600_000, maxLengthBytes: 64 << 20, overflow: "reject-publish"))
            let permissions = try await admin.client.get(BrokerPermissions.self, ["permissions", "/", user])
            #expect(permissions == BrokerAdministrator.serverPermissions(serverID: serverID))
            #expect(try await admin.client.get(UserInfo.self, ["users", user])?.tags == [])
        }
    }

    @Test(arguments: ["alice", "j.smith", "x|y", "a+b"])
    func addUserCreatesEverythingWithExactPermissions(localPart: String) async throws {
        let admin = try await administrator()
        let owner = "\(localPart)-\(Self.unique())@example.test"
        try await cleaningUp { _ = try? await admin.removeUser(owner: owner) } body: {
            let setup = try await admin.addUser(owner: owner.uppercased(), password: "pw")
            _ = try await admin.addUser(owner: owner, password: "pw")  // idempotent

            #expect(setup.owner == owner)
            let escaped = Topology.escapeRegex(owner)
            let permissions = try await admin.client.get(BrokerPermissions.self, ["permissions", "/", owner])
            #expect(permissions == BrokerPermissions(configure: "^$", write: #"^mailfilter\.replies$"#, read: #"^mailfilter\.(user|events)\."# + escaped + "$"))
            #expect(try await admin.client.get(UserInfo.self, ["users", owner])?.tags == [])

            let limits = try await admin.client.get([UserLimitsInfo].self, ["user-limits", owner])
            #expect(limits?.first?.value == ["max-connections": 8, "max-channels": 32])

            for (queue, exchange, definition) in [
                ("mailfilter.user.\(owner)", "mailfilter.requests", PolicyInfo.Definition(messageTTL: 3_600_000, maxLengthBytes: 64 << 20, overflow: "reject-publish")),
                ("mailfilter.events.\(owner)", "mailfilter.events", PolicyInfo.Definition(messageTTL: 604_800_000, maxLengthBytes: 16 << 20, overflow: "drop-head")),
            ] {
                #expect(try await admin.client.get(QueueInfo.self, ["queues", "/", queue])?.durable == true)
                let bindings = try await admin.client.get([BindingInfo].self, ["bindings", "/", "e", exchange, "q", queue])
                #expect(bindings?.map(\.routing_key) == [owner], "one binding, keyed by the owner, after two adds")
                let policy = try #require(try await admin.client.get(PolicyInfo.self, ["policies", "/", queue]))
                #expect(policy.pattern == "^" + Topology.escapeRegex(queue) + "$")
                #expect(policy.definition == definition)
                #expect(policy.priority == 10)
                // The policy applies to exactly this queue (rabbitmqctl sees it at once; the API's
                // queue statistics only after their next refresh).
                let listing = try TestBroker.ctl(["--quiet", "list_queues", "name", "policy"])
                #expect(listing.split(separator: "\n").contains { $0.split(separator: "\t").map(String.init) == [queue, queue] })
            }

            let listed = try await admin.listUsers().first { $0.owner == owner }
            #expect(listed == BrokerAdministrator.FilterUser(owner: owner, hasBrokerUser: true, messages: 0, consumers: 0, eventMessages: 0))
        }
    }

    @Test func removeCleansUp() async throws {
        let admin = try await administrator()
        let owner = "gone-\(Self.unique())@example.test"
        _ = try await admin.addUser(owner: owner, password: nil)
        #expect(try await admin.removeUser(owner: owner))
        #expect(try await admin.client.get(UserInfo.self, ["users", owner]) == nil)
        #expect(try await admin.client.get([UserLimitsInfo].self, ["user-limits", owner])?.isEmpty ?? true)
        for queue in ["mailfilter.user.\(owner)", "mailfilter.events.\(owner)"] {
            #expect(try await admin.client.get(QueueInfo.self, ["queues", "/", queue]) == nil)
            #expect(try await admin.client.get(PolicyInfo.self, ["policies", "/", queue]) == nil)
        }
        #expect(try await admin.listUsers().contains { $0.owner == owner } == false)
        #expect(try await admin.removeUser(owner: owner) == false)
    }

    @Test func setupWarnsAboutImpersonators() async throws {
        let admin = try await administrator()
        let serverID = "test-\(Self.unique())"
        let impostor = "impostor-\(Self.unique())"
        struct TaggedUser: Encodable, Sendable { var password = "pw"; var tags = "impersonator" }
        try await cleaningUp {
            _ = try? await admin.client.delete(["users", impostor])
            await Self.removeServer(admin, serverID: serverID, user: "filterd-\(serverID)")
        } body: {
            try await admin.client.put(["users", impostor], TaggedUser())
            let report = try await admin.setup(serverID: serverID, serverUser: "filterd-\(serverID)", serverPassword: "pw")
            #expect(report.warnings.contains { $0.contains("user \(impostor) has the impersonator tag") })
        }
    }

    /// The permissions at work over AMQP, through pika (python3-pika): each owner reads only
    /// their own queues, and cannot declare, bind or publish to the requests exchange.
    @Test func ownerPermissionsHoldOverAMQP() async throws {
        let admin = try await administrator()
        let alice = "x|y.\(Self.unique())@example.test"
        let bob = "j.smith-\(Self.unique())@example.test"
        try await cleaningUp {
            _ = try? await admin.removeUser(owner: alice)
            _ = try? await admin.removeUser(owner: bob)
        } body: {
            _ = try await admin.addUser(owner: alice, password: "alice-pw")
            _ = try await admin.addUser(owner: bob, password: "bob-pw")
            let checks = """
                check("own-get", lambda c: c.basic_get("mailfilter.user." + own))
                check("own-events-get", lambda c: c.basic_get("mailfilter.events." + own))
                check("other-get", lambda c: c.basic_get("mailfilter.user." + other))
                check("other-consume", lambda c: c.basic_consume("mailfilter.user." + other, lambda *a: None))
                check("other-events-get", lambda c: c.basic_get("mailfilter.events." + other))
                check("declare", lambda c: c.queue_declare("mailfilter.user." + own + ".x"))
                check("bind", lambda c: c.queue_bind("mailfilter.user." + own, "mailfilter.requests", other))
                check("publish-replies", publish("mailfilter.replies", "nobody"))
                check("publish-requests", publish("mailfilter.requests", other))
                check("publish-default", publish("", "mailfilter.user." + other))
                """
            let result = try Self.pika(checks, user: alice, password: "alice-pw", own: alice, other: bob)
            #expect(
                result == [
                    "own-get allowed", "own-events-get allowed", "other-get refused", "other-consume refused",
                    "other-events-get refused", "declare refused", "bind refused", "publish-replies allowed",
                    "publish-requests refused", "publish-default refused",
                ])
        }
    }

    /// The server's minimum permissions suffice for what it does, and allow nothing of an owner's.
    @Test func serverPermissionsHoldOverAMQP() async throws {
        let admin = try await administrator()
        let serverID = "test-\(Self.unique())"
        let user = "filterd-\(serverID)"
        let owner = "carol-\(Self.unique())@example.test"
        try await cleaningUp {
            _ = try? await admin.removeUser(owner: owner)
            await Self.removeServer(admin, serverID: serverID, user: user)
        } body: {
            _ = try await admin.setup(serverID: serverID, serverUser: user, serverPassword: "server-pw")
            _ = try await admin.addUser(owner: owner, password: "carol-pw")
            let checks = """
                check("passive-declare", lambda c: c.queue_declare("mailfilter.user." + other, passive=True))
                check("publish-requests", publish("mailfilter.requests", other))
                check("publish-events", publish("mailfilter.events", other))
                check("own-consume", lambda c: c.basic_consume("mailfilter.server." + own, lambda *a: None))
                check("own-redeclare", lambda c: c.queue_declare("mailfilter.server." + own, durable=True))
                check("own-rebind", lambda c: c.queue_bind("mailfilter.server." + own, "mailfilter.replies", own))
                check("owner-get", lambda c: c.basic_get("mailfilter.user." + other))
                check("publish-replies", publish("mailfilter.replies", own))
                check("publish-default", publish("", "mailfilter.user." + other))
                check("declare-other", lambda c: c.queue_declare("mailfilter.server.x" + own, durable=True))
                """
            let result = try Self.pika(checks, user: user, password: "server-pw", own: serverID, other: owner)
            #expect(
                result == [
                    "passive-declare allowed", "publish-requests allowed", "publish-events allowed",
                    "own-consume allowed", "own-redeclare allowed", "own-rebind allowed", "owner-get refused",
                    "publish-replies refused", "publish-default refused", "declare-other refused",
                ])
        }
    }

    /// Runs `checks` (lines calling `check(name, action)`) with python3-pika, logged in as
    /// `user`; each action gets a fresh channel. Returns one `name allowed|refused` per check.
    private static func pika(_ checks: String, user: String, password: String, own: String, other: String) throws -> [String] {
        let script = """
            import pika, sys
            user, password, own, other = sys.argv[1:5]
            def check(name, action):
                parameters = pika.ConnectionParameters(host="127.0.0.1", port=\(TestBroker.amqpPort),
                    credentials=pika.PlainCredentials(user, password))
                connection = pika.BlockingConnection(parameters)
                try:
                    action(connection.channel())
                    print(name, "allowed")
                except pika.exceptions.ChannelClosedByBroker as error:
                    print(name, "refused" if error.reply_code == 403 else "closed %d" % error.reply_code)
                finally:
                    if connection.is_open:
                        connection.close()
            def publish(exchange, key):
                def run(channel):
                    channel.confirm_delivery()
                    channel.basic_publish(exchange, key, b"x")
                return run

            """ + checks
        return try python(script, arguments: [user, password, own, other]).split(separator: "\n").map(String.init)
    }

    private static func python(_ script: String, arguments: [String]) throws -> String {
        // Debian's interpreter: python3-pika is installed for it, not for a pyenv shim on PATH.
        try TestBroker.run(URL(fileURLWithPath: "/usr/bin/python3"), ["-c", script] + arguments)
    }

    /// Runs `body`, then `cleanup` whether or not it threw, so that the shared broker keeps no
    /// users or queues of finished tests.
    private func cleaningUp(_ cleanup: () async -> Void, body: () async throws -> Void) async throws {
        do {
            try await body()
        } catch {
            await cleanup()
            throw error
        }
        await cleanup()
    }

    private static func removeServer(_ admin: BrokerAdministrator, serverID: String, user: String) async {
        let queue = "mailfilter.server.\(serverID)"
        _ = try? await admin.client.delete(["users", user])
        _ = try? await admin.client.delete(["queues", "/", queue])
        _ = try? await admin.client.delete(["policies", "/", queue])
    }
}

// MARK: - What the management API answers (the fields the tests read)

private struct ExchangeInfo: Decodable {
    var type: String
    var durable: Bool
    var auto_delete: Bool
}

private struct QueueInfo: Decodable, Equatable {
    var durable: Bool
}

private struct BindingInfo: Decodable {
    var routing_key: String
}

private struct PolicyInfo: Decodable {
    struct Definition: Decodable, Equatable {
        var messageTTL: Int
        var maxLengthBytes: Int
        var overflow: String
        enum CodingKeys: String, CodingKey {
            case overflow
            case messageTTL = "message-ttl"
            case maxLengthBytes = "max-length-bytes"
        }
    }
    var pattern: String
    var definition: Definition
    var priority: Int
}

private struct UserInfo: Decodable, Equatable {
    var tags: [String]
}

private struct UserLimitsInfo: Decodable {
    var value: [String: Int]
}
