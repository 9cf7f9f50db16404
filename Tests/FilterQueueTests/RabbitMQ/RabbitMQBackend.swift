import Foundation
import Logging

@testable import FilterQueue

/// The RabbitMQ backend under the conformance suite and the RabbitMQ tests: transports logged
/// in to the shared test node (``TestBroker``) or the TLS node (``TLSTestBroker``), owners
/// subscribed as `filterctl user add` would (a broker user named after the owner with
/// DESIGN.md's permissions, a durable queue bound to `mailfilter.requests`, an events queue
/// bound to `mailfilter.events`).
///
/// Several checkouts share the node, so every name a test makes carries a random suffix.
struct RabbitMQBackend: TransportBackend {
    let name = "rabbitmq"
    /// The administrator's password.
    let adminPassword: String
    /// The node the transports log in to.
    let node: Node

    /// A node: where transports connect and how to run `rabbitmqctl` against it.
    struct Node: Sendable {
        /// The URL without user and password.
        let url: String
        /// Starts the node if needed and returns the administrator's password.
        let start: @Sendable () async throws -> String
        /// Runs `rabbitmqctl` against the node.
        let ctl: @Sendable ([String]) throws -> String

        /// The node every checkout shares, over plain AMQP.
        static let shared = Node(
            url: "amqp://127.0.0.1:\(TestBroker.amqpPort)/%2F?heartbeat=4", start: { try await TestBroker.start() },
            ctl: { try TestBroker.ctl($0) })

        /// The TLS node over `amqps://localhost`, verified against its CA.
        static let tls = Node(
            url: "amqps://localhost:\(TLSTestBroker.amqpsPort)/%2F?heartbeat=4&cacertfile=\(TLSTestBroker.caFile)",
            start: { try await TLSTestBroker.start() }, ctl: { try TLSTestBroker.ctl($0) })
    }

    /// Starts (or reuses) `node` and declares the three exchanges, as `filterctl setup` does.
    static func start(node: Node = .shared) async throws -> RabbitMQBackend {
        let backend = RabbitMQBackend(adminPassword: try await node.start(), node: node)
        let admin = try backend.adminTransport()
        do {
            try await admin.declareExchange(Topology.requestExchange, type: "direct")
            try await admin.declareExchange(Topology.replyExchange, type: "direct")
            try await admin.declareExchange(Topology.eventExchange, type: "topic")
        } catch {
            await admin.shutdown()
            throw error
        }
        await admin.shutdown()
        return backend
    }

    /// A URL of `node` for a user.
    static func url(user: String, password: String?, node: Node = .shared) throws -> AMQPURL {
        var url = try AMQPURL(node.url, password: password)
        url.user = user
        url.password = password
        return url
    }

    /// A transport logged in as the administrator (who also plays the filter server).
    func adminTransport(configuration: RabbitMQTransport.Configuration = .init()) throws -> RabbitMQTransport {
        RabbitMQTransport(
            url: try Self.url(user: TestBroker.adminUser, password: adminPassword, node: node), configuration: configuration,
            logger: Self.logger)
    }

    func server() async throws -> any FilterTransport {
        try adminTransport()
    }

    func client(owner: String) async throws -> any FilterTransport {
        RabbitMQTransport(
            url: try Self.url(user: owner, password: Self.password(of: owner), node: node), logger: Self.logger)
    }

    func subscribe(owner: String, maxLengthBytes: Int?) async throws {
        _ = try node.ctl(["add_user", owner, Self.password(of: owner)])
        _ = try node.ctl([
            "set_permissions", "-p", "/", owner, Topology.configurePermission, Topology.writePermission,
            try Topology.ownerQueuesReadPermission(owner: owner),
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
            let eventLimits = QueueLimits.eventQueueDefault
            try await admin.declareQueue(
                try Topology.eventQueue(owner: owner),
                arguments: [
                    "x-max-length-bytes": .integer(Int64(eventLimits.maxLengthBytes)),
                    "x-overflow": .string(eventLimits.overflow.rawValue),
                ], boundTo: Topology.eventExchange, routingKey: owner)
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
