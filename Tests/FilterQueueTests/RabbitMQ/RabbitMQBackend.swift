import Foundation
import Logging

@testable import FilterQueue

/// The RabbitMQ backend under the conformance suite and the RabbitMQ tests: transports logged
/// in to the shared test node (``TestBroker``), owners subscribed as `filterctl user add`
/// would (a broker user named after the owner with DESIGN.md's permissions, a durable queue
/// bound to `mailfilter.requests`).
///
/// Several checkouts share the node, so every name a test makes carries a random suffix.
struct RabbitMQBackend: TransportBackend {
    let name = "rabbitmq"
    /// The administrator's password.
    let adminPassword: String

    /// Starts (or reuses) the test node and declares the two exchanges, as `filterctl setup` does.
    static func start() async throws -> RabbitMQBackend {
        let backend = RabbitMQBackend(adminPassword: try await TestBroker.start())
        let admin = try backend.adminTransport()
        do {
            try await admin.declareExchange(Topology.requestExchange, type: "direct")
            try await admin.declareExchange(Topology.replyExchange, type: "direct")
        } catch {
            await admin.shutdown()
            throw error
        }
        await admin.shutdown()
        return backend
    }

    /// A URL of the test node for a user.
    static func url(user: String, password: String?) throws -> AMQPURL {
        var url = try AMQPURL("amqp://127.0.0.1:\(TestBroker.amqpPort)/%2F?heartbeat=4", password: password)
        url.user = user
        url.password = password
        return url
    }

    /// A transport logged in as the administrator (who also plays the filter server).
    func adminTransport(configuration: RabbitMQTransport.Configuration = .init()) throws -> RabbitMQTransport {
        RabbitMQTransport(
            url: try Self.url(user: TestBroker.adminUser, password: adminPassword), configuration: configuration,
            logger: Self.logger)
    }

    func server() async throws -> any FilterTransport {
        try adminTransport()
    }

    func client(owner: String) async throws -> any FilterTransport {
        RabbitMQTransport(url: try Self.url(user: owner, password: Self.password(of: owner)), logger: Self.logger)
    }

    func subscribe(owner: String, maxLengthBytes: Int?) async throws {
        try TestBroker.ctl(["add_user", owner, Self.password(of: owner)])
        try TestBroker.ctl([
            "set_permissions", "-p", "/", owner, Topology.configurePermission, Topology.writePermission,
            try Topology.readPermission(owner: owner),
        ])
        var arguments: [String: AMQPArgument] = [:]
        if let maxLengthBytes {
            arguments["x-max-length-bytes"] = .integer(Int64(maxLengthBytes))
            arguments["x-overflow"] = .string("reject-publish")
        }
        let admin = try adminTransport()
        do {
            try await admin.declareQueue(
                try Topology.requestQueue(owner: owner), arguments: arguments, boundTo: Topology.requestExchange,
                routingKey: owner)
        } catch {
            await admin.shutdown()
            throw error
        }
        await admin.shutdown()
    }

    /// A fresh owner address, unique across test runs and checkouts.
    static func uniqueOwner(_ local: String = "alice") -> String {
        "\(local)-\(UUID().uuidString.prefix(8).lowercased())@example.com"
    }

    /// The password of an owner's broker user: random per test process, derived from the
    /// owner so that any test of the process can log in as them.
    static func password(of owner: String) -> String {
        "pw-\(passwordSalt)-" + String(UInt(bitPattern: owner.hashValue), radix: 36)
    }

    private static let passwordSalt = UUID().uuidString.prefix(12)

    static let logger = Logger(label: "filter.queue.test") { _ in SwiftLogNoOpLogHandler() }
}
