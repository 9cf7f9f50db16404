import Foundation
import Logging
import Testing

@testable import FilterQueue

/// The backend-neutral conformance suite against the real test node.
@Suite(.enabled(if: TestBroker.enabled), .serialized)
struct RabbitMQConformanceTests {
    @Test(arguments: TransportConformance.properties)
    func conforms(to property: TransportConformance.Property) async throws {
        try await property.check(try await RabbitMQBackend.start())
    }
}

/// ``RabbitMQTransport`` against the real test node (`FILTER_INTEGRATION=1`).
@Suite(.enabled(if: TestBroker.enabled), .serialized)
struct RabbitMQTransportTests {
    private static let serverID = "test-\(UUID().uuidString.prefix(8).lowercased())"

    private static func request(
        owner: String, id: String = UUID().uuidString, body: String = "Subject: hi\r\n\r\nhello\r\n",
        expiration: Duration = .seconds(60)
    ) -> OutgoingRequest {
        OutgoingRequest(
            id: id, owner: owner, serverID: serverID, queueID: "Q\(id.prefix(6))",
            metadata: #"{"version":1,"id":"\#(id)"}"#, body: Array(body.utf8), expiration: expiration,
            timestamp: Date(timeIntervalSince1970: 1_790_000_000))
    }

    @Test func publishedRequestCarriesEveryPropertyOfTheWireProtocol() async throws {
        let backend = try await RabbitMQBackend.start()
        let owner = RabbitMQBackend.uniqueOwner()
        try await backend.subscribe(owner: owner, maxLengthBytes: nil)
        let server = try backend.adminTransport()
        let request = Self.request(owner: owner, expiration: .milliseconds(45_500))

        #expect(try await server.publish(request) == .accepted)
        let delivered = try #require(try await server.get(from: Topology.requestQueue(owner: owner)))
        await server.shutdown()

        #expect(delivered.exchange == "mailfilter.requests")
        #expect(delivered.routingKey == owner)
        #expect(delivered.body == request.body)
        let properties = delivered.properties
        #expect(properties.deliveryMode == 2)
        #expect(properties.correlationID == request.id)
        #expect(properties.replyTo == Self.serverID)
        #expect(properties.expiration == "45500")
        #expect(properties.messageID == request.queueID)
        #expect(properties.timestamp == 1_790_000_000)
        #expect(properties.type == "mailfilter.request.v1")
        #expect(properties.contentType == "message/rfc822")
        #expect(properties.headers == ["x-mailfilter-request": request.metadata])
        #expect(properties.userID == nil)
    }

    @Test func roundTripRequestToReply() async throws {
        let backend = try await RabbitMQBackend.start()
        let owner = RabbitMQBackend.uniqueOwner()
        try await backend.subscribe(owner: owner, maxLengthBytes: nil)
        let server = try backend.adminTransport()
        let client = try await backend.client(owner: owner)
        let replies = try await server.replies(serverID: Self.serverID)
        let requests = try await client.requests(owner: owner, prefetch: 4)
        let request = Self.request(owner: owner)

        #expect(try await server.publish(request) == .accepted)
        let delivered = try #require(try await collect(1, from: requests).first)
        #expect(delivered.id == request.id)
        #expect(delivered.replyTo == Self.serverID)
        #expect(delivered.queueID == request.queueID)
        #expect(delivered.metadata == request.metadata)
        #expect(delivered.body == request.body)
        #expect(delivered.redelivered == false)

        let body = Array(#"{"version":1,"id":"\#(request.id)","action":"pass"}"#.utf8)
        try await client.reply(OutgoingReply(id: request.id, serverID: Self.serverID, body: body), to: delivered)
        let reply = try #require(try await collect(1, from: replies).first)
        #expect(reply.correlationID == request.id)
        #expect(reply.userID == owner)
        #expect(reply.type == "mailfilter.reply.v1")
        #expect(reply.body == body)
        try await server.acknowledge(reply)

        // The request was acknowledged after the confirmed reply: nothing is left for a new client.
        await client.shutdown()
        let second = try await backend.client(owner: owner)
        let again = try await second.requests(owner: owner, prefetch: 4)
        await #expect(throws: CollectTimeout.self) { try await collect(1, from: again, within: .seconds(1)) }
        await second.shutdown()
        await server.shutdown()
    }

    @Test func replyIsPersistentJSONWithTheLoginUserAsUserID() async throws {
        let backend = try await RabbitMQBackend.start()
        let owner = RabbitMQBackend.uniqueOwner("bob")
        try await backend.subscribe(owner: owner, maxLengthBytes: nil)
        let serverID = "props-\(UUID().uuidString.prefix(8).lowercased())"
        let server = try backend.adminTransport()
        // Declares and binds the reply queue; the consumer stops with the stream.
        _ = try await server.replies(serverID: serverID)
        await server.shutdown()

        let client = try await backend.client(owner: owner) as! RabbitMQTransport
        let requests = try await client.requests(owner: owner, prefetch: 1)
        let admin = try backend.adminTransport()
        var request = Self.request(owner: owner)
        request.serverID = serverID
        #expect(try await admin.publish(request) == .accepted)
        let delivered = try #require(try await collect(1, from: requests).first)
        try await client.reply(OutgoingReply(id: request.id, serverID: serverID, body: Array("{}".utf8)), to: delivered)

        let reply = try #require(try await admin.get(from: Topology.replyQueue(serverID: serverID)))
        #expect(reply.exchange == "mailfilter.replies")
        #expect(reply.routingKey == serverID)
        #expect(reply.properties.userID == owner)
        #expect(reply.properties.deliveryMode == 2)
        #expect(reply.properties.contentType == "application/json")
        #expect(reply.properties.type == "mailfilter.reply.v1")
        #expect(reply.properties.correlationID == request.id)
        try await admin.deleteQueue(Topology.replyQueue(serverID: serverID))
        await admin.shutdown()
        await client.shutdown()
    }

    @Test func requestToAnOwnerWithoutQueueIsUnroutable() async throws {
        let backend = try await RabbitMQBackend.start()
        let server = try backend.adminTransport()
        #expect(try await server.publish(Self.request(owner: RabbitMQBackend.uniqueOwner("nobody"))) == .unroutable)
        // The transport goes on working after a return.
        let owner = RabbitMQBackend.uniqueOwner()
        try await backend.subscribe(owner: owner, maxLengthBytes: nil)
        #expect(try await server.publish(Self.request(owner: owner)) == .accepted)
        await server.shutdown()
    }

    @Test func requestToAFullQueueIsRejected() async throws {
        let backend = try await RabbitMQBackend.start()
        let owner = RabbitMQBackend.uniqueOwner("full")
        try await backend.subscribe(owner: owner, maxLengthBytes: 1000)
        let server = try backend.adminTransport()
        // reject-publish refuses a message that would take the queue past its limit.
        let body = String(repeating: "x", count: 600)
        #expect(try await server.publish(Self.request(owner: owner, body: body)) == .accepted)
        #expect(try await server.publish(Self.request(owner: owner, body: body)) == .rejected)
        #expect(try await server.publish(Self.request(owner: owner, body: String(body.prefix(300)))) == .accepted)
        #expect(try await server.subscription(of: owner) == .offline)
        await server.shutdown()
    }

    @Test func subscriptionIsNoneOfflineOrOnline() async throws {
        let backend = try await RabbitMQBackend.start()
        let owner = RabbitMQBackend.uniqueOwner()
        let server = try backend.adminTransport()
        #expect(try await server.subscription(of: owner) == .none)
        // The 404 closed the declaration channel; it is reopened for the next call.
        #expect(try await server.subscription(of: owner) == .none)
        try await backend.subscribe(owner: owner, maxLengthBytes: nil)
        #expect(try await server.subscription(of: owner) == .offline)
        let client = try await backend.client(owner: owner)
        let requests = try await client.requests(owner: owner, prefetch: 1)
        #expect(try await server.subscription(of: owner) == .online(consumers: 1))
        _ = requests
        await client.shutdown()
        #expect(try await eventually { try await server.subscription(of: owner) == .offline })
        await server.shutdown()
    }

    @Test func manyRequestsAreConfirmedPipelined() async throws {
        let backend = try await RabbitMQBackend.start()
        let owner = RabbitMQBackend.uniqueOwner("many")
        try await backend.subscribe(owner: owner, maxLengthBytes: nil)
        let server = try backend.adminTransport()
        let count = 500
        let started = ContinuousClock.now
        let outcomes = try await withThrowingTaskGroup(of: PublishOutcome.self) { group in
            for _ in 0..<count {
                group.addTask { try await server.publish(Self.request(owner: owner)) }
            }
            return try await group.reduce(into: [PublishOutcome]()) { $0.append($1) }
        }
        let elapsed = ContinuousClock.now - started
        #expect(outcomes.count == count)
        #expect(outcomes.allSatisfy { $0 == .accepted })
        // One by one, each confirm costs a round trip and an fsync; pipelined they share them.
        #expect(elapsed < .seconds(20))
        let client = try await backend.client(owner: owner)
        let requests = try await client.requests(owner: owner, prefetch: count)
        #expect(try await collect(count, from: requests, within: .seconds(20)).count == count)
        await client.shutdown()
        await server.shutdown()
    }

    @Test func unacknowledgedRequestsAreRedeliveredAfterAClientShutsDown() async throws {
        let backend = try await RabbitMQBackend.start()
        let owner = RabbitMQBackend.uniqueOwner("redeliver")
        try await backend.subscribe(owner: owner, maxLengthBytes: nil)
        let server = try backend.adminTransport()
        let ids = (0..<3).map { _ in UUID().uuidString }
        for id in ids { #expect(try await server.publish(Self.request(owner: owner, id: id)) == .accepted) }

        let first = try await backend.client(owner: owner)
        let firstDeliveries = try await collect(3, from: try await first.requests(owner: owner, prefetch: 10))
        #expect(firstDeliveries.map { $0.redelivered } == [false, false, false])
        await first.shutdown()

        let second = try await backend.client(owner: owner)
        let again = try await collect(3, from: try await second.requests(owner: owner, prefetch: 10))
        #expect(Set(again.compactMap(\.id)) == Set(ids))
        #expect(again.allSatisfy { $0.redelivered })
        // A receipt from the first client's connection cannot acknowledge anything now.
        try await second.reply(
            OutgoingReply(id: ids[0], serverID: Self.serverID, body: Array("{}".utf8)), to: firstDeliveries[0])
        await second.shutdown()
        await server.shutdown()
    }

    @Test func publishWithoutVerdictInTimeThrowsTimedOut() async throws {
        let backend = try await RabbitMQBackend.start()
        let owner = RabbitMQBackend.uniqueOwner("slow")
        try await backend.subscribe(owner: owner, maxLengthBytes: nil)
        var configuration = RabbitMQTransport.Configuration()
        configuration.publishTimeout = .zero
        let server = try backend.adminTransport(configuration: configuration)
        let request = Self.request(owner: owner)
        await #expect {
            try await server.publish(request)
        } throws: { error in
            (error as? TransportError)?.code == .timedOut
        }
        // It was sent all the same; its late confirm is ignored and the transport goes on.
        #expect(try await eventually { try await server.get(from: Topology.requestQueue(owner: owner))?.properties.correlationID == request.id })
        await server.shutdown()
    }

    @Test func wrongPasswordIsAnAuthenticationFailure() async throws {
        let backend = try await RabbitMQBackend.start()
        let transport = RabbitMQTransport(
            url: try RabbitMQBackend.url(user: TestBroker.adminUser, password: backend.adminPassword + "-wrong"),
            logger: RabbitMQBackend.logger)
        await #expect {
            try await transport.connect()
        } throws: { error in
            (error as? TransportError)?.code == .authenticationFailed
                && !"\(error)".contains(backend.adminPassword)
        }
        await #expect {
            try await transport.publish(Self.request(owner: "x@example.com"))
        } throws: { error in
            (error as? TransportError)?.code == .authenticationFailed
        }
        await transport.shutdown()
    }

    @Test func closedPortIsAConnectionFailureSayingRefused() async throws {
        let transport = RabbitMQTransport(url: try AMQPURL("amqp://u:p@127.0.0.1:1/"), logger: RabbitMQBackend.logger)
        await #expect {
            try await transport.connect()
        } throws: { error in
            guard let error = error as? TransportError else { return false }
            return error.code == .connectionFailed && error.message.contains("refused")
        }
    }

    @Test func clientCannotConsumeAnotherOwnersQueue() async throws {
        let backend = try await RabbitMQBackend.start()
        let alice = RabbitMQBackend.uniqueOwner("alice")
        let bob = RabbitMQBackend.uniqueOwner("bob")
        try await backend.subscribe(owner: alice, maxLengthBytes: nil)
        try await backend.subscribe(owner: bob, maxLengthBytes: nil)
        let client = try await backend.client(owner: alice)
        await #expect {
            _ = try await client.requests(owner: bob, prefetch: 1)
        } throws: { error in
            (error as? TransportError)?.code == .accessRefused
        }
        // The refused channel does not spoil the connection: alice's own queue still works.
        _ = try await client.requests(owner: alice, prefetch: 1)
        await client.shutdown()
    }

    @Test func brokerRefusesAnotherUserIDAndForeignExchangesAndTheTransportGoesOn() async throws {
        let backend = try await RabbitMQBackend.start()
        let alice = RabbitMQBackend.uniqueOwner("alice")
        let bob = RabbitMQBackend.uniqueOwner("bob")
        try await backend.subscribe(owner: alice, maxLengthBytes: nil)
        let client = try await backend.client(owner: alice) as! RabbitMQTransport
        let reply = AMQPOutgoingMessage(
            exchange: Topology.replyExchange, routingKey: "gone-\(UUID().uuidString)", mandatory: true,
            properties: AMQPProperties(correlationID: "r1", userID: bob), body: Array("{}".utf8))
        // 406 PRECONDITION_FAILED closes the confirm channel; the transport opens it again.
        await #expect {
            try await client.publish(reply)
        } throws: { error in
            guard let error = error as? TransportError else { return false }
            return error.code == .protocolError && error.message.contains("406")
        }
        var request = reply
        request.exchange = Topology.requestExchange
        request.routingKey = bob
        request.properties.userID = nil
        await #expect {
            try await client.publish(request)
        } throws: { error in
            (error as? TransportError)?.code == .accessRefused
        }
        var defaultExchange = request
        defaultExchange.exchange = ""
        defaultExchange.routingKey = try Topology.requestQueue(owner: bob)
        await #expect {
            try await client.publish(defaultExchange)
        } throws: { error in
            (error as? TransportError)?.code == .accessRefused
        }
        var own = reply
        own.properties.userID = alice
        #expect(try await client.publish(own) == .unroutable)
        await client.shutdown()
    }

    @Test func afterShutdownCallsThrowClosedAndStreamsFinish() async throws {
        let backend = try await RabbitMQBackend.start()
        let owner = RabbitMQBackend.uniqueOwner()
        try await backend.subscribe(owner: owner, maxLengthBytes: nil)
        let client = try await backend.client(owner: owner)
        let requests = try await client.requests(owner: owner, prefetch: 1)
        await client.shutdown()
        var iterator = requests.makeAsyncIterator()
        #expect(try await iterator.next() == nil)
        await #expect {
            try await client.subscription(of: owner)
        } throws: { error in
            (error as? TransportError)?.code == .closed
        }
    }
}

/// A stream gave fewer elements than expected in time.
private struct CollectTimeout: Error {}

/// The first `count` elements of a stream, or ``CollectTimeout``.
private func collect<Element: Sendable>(
    _ count: Int, from stream: AsyncThrowingStream<Element, any Error>, within limit: Duration = .seconds(10)
) async throws -> [Element] {
    try await collect(from: stream, within: limit) { $0.count == count }
}

/// The elements of a stream up to the first point where `done` holds for them, or ``CollectTimeout``.
private func collect<Element: Sendable>(
    from stream: AsyncThrowingStream<Element, any Error>, within limit: Duration,
    until done: @escaping @Sendable ([Element]) -> Bool
) async throws -> [Element] {
    try await withThrowingTaskGroup(of: [Element]?.self) { group in
        group.addTask {
            var elements: [Element] = []
            for try await element in stream {
                elements.append(element)
                if done(elements) { return elements }
            }
            return nil
        }
        group.addTask {
            try await Task.sleep(for: limit)
            return nil
        }
        let first = try await group.next() ?? nil
        group.cancelAll()
        guard let first else { throw CollectTimeout() }
        return first
    }
}

/// Whether `condition` becomes true within `limit`, checked every 100 ms.
private func eventually(within limit: Duration = .seconds(10), _ condition: () async throws -> Bool) async throws -> Bool {
    let deadline = ContinuousClock.now + limit
    while ContinuousClock.now < deadline {
        if try await condition() { return true }
        try await Task.sleep(for: .milliseconds(100))
    }
    return false
}

/// Connection losses, forced by the broker closing a user's connections (never by stopping the
/// shared node).
@Suite(.enabled(if: TestBroker.enabled), .serialized)
struct RabbitMQReconnectionTests {
    private static let serverID = "reconnect-\(UUID().uuidString.prefix(8).lowercased())"

    private static func request(owner: String, id: String = UUID().uuidString) -> OutgoingRequest {
        OutgoingRequest(
            id: id, owner: owner, serverID: serverID, queueID: "Q1", metadata: "{}", body: Array("x".utf8),
            expiration: .seconds(120), timestamp: Date())
    }

    @Test func clientStreamSurvivesALostConnectionAndGetsUnacknowledgedRequestsAgain() async throws {
        let backend = try await RabbitMQBackend.start()
        let owner = RabbitMQBackend.uniqueOwner("survivor")
        try await backend.subscribe(owner: owner, maxLengthBytes: nil)
        let server = try backend.adminTransport()
        // The replies below need the server's reply queue; its consumer here takes them.
        let replies = try await server.replies(serverID: Self.serverID)
        let client = try await backend.client(owner: owner)
        let requests = try await client.requests(owner: owner, prefetch: 10)
        let first = Self.request(owner: owner)
        #expect(try await server.publish(first) == .accepted)
        let before = try #require(try await collect(1, from: requests).first)
        #expect(before.id == first.id && !before.redelivered)

        try TestBroker.ctl(["close_all_user_connections", owner, "test: connection loss"])
        let second = Self.request(owner: owner)
        #expect(try await server.publish(second) == .accepted)
        let after = try await collect(2, from: requests, within: .seconds(20))
        let again = try #require(after.first { $0.id == first.id })
        #expect(again.redelivered)
        #expect(again.receipt.connection != before.receipt.connection)
        #expect(after.contains { $0.id == second.id })

        // The stale receipt acknowledges nothing; the current ones do.
        let reply = Array("{}".utf8)
        try await client.reply(OutgoingReply(id: first.id, serverID: Self.serverID, body: reply), to: before)
        for delivered in after {
            try await client.reply(OutgoingReply(id: delivered.id ?? "", serverID: Self.serverID, body: reply), to: delivered)
        }
        await client.shutdown()
        #expect(try await server.subscription(of: owner) == .offline)
        let check = try await backend.client(owner: owner)
        await #expect(throws: CollectTimeout.self) {
            try await collect(1, from: try await check.requests(owner: owner, prefetch: 1), within: .seconds(1))
        }
        await check.shutdown()
        try await server.deleteQueue(Topology.replyQueue(serverID: Self.serverID))
        await server.shutdown()
        withExtendedLifetime(replies) {}
    }

    @Test func authenticationFailureOnReconnectEndsTheStream() async throws {
        let backend = try await RabbitMQBackend.start()
        let owner = RabbitMQBackend.uniqueOwner("revoked")
        try await backend.subscribe(owner: owner, maxLengthBytes: nil)
        let client = try await backend.client(owner: owner)
        let requests = try await client.requests(owner: owner, prefetch: 1)
        try TestBroker.ctl(["change_password", owner, "changed-\(UUID().uuidString)"])
        try TestBroker.ctl(["close_all_user_connections", owner, "test: password changed"])
        await #expect {
            _ = try await collect(1, from: requests, within: .seconds(20))
        } throws: { error in
            (error as? TransportError)?.code == .authenticationFailed
        }
        await client.shutdown()
    }

    @Test func publishesInFlightWhenTheConnectionDiesAreSentAgain() async throws {
        let backend = try await RabbitMQBackend.start()
        let owner = RabbitMQBackend.uniqueOwner("inflight")
        try await backend.subscribe(owner: owner, maxLengthBytes: nil)
        // A server user of this test alone, so closing its connections disturbs nobody else.
        let serverUser = "server-\(UUID().uuidString.prefix(8).lowercased())"
        try TestBroker.ctl(["add_user", serverUser, RabbitMQBackend.password(of: serverUser)])
        try TestBroker.ctl(["set_permissions", "-p", "/", serverUser, ".*", ".*", ".*"])
        let log = LogRecorder()
        let server = RabbitMQTransport(
            url: try RabbitMQBackend.url(user: serverUser, password: RabbitMQBackend.password(of: serverUser)),
            logger: Logger(label: "filter.queue.test") { _ in log })
        try await server.connect()

        let closed = Flag()
        let ids = try await withThrowingTaskGroup(of: [String].self) { group in
            for _ in 0..<8 {
                group.addTask {
                    var sent: [String] = []
                    var extra = 0
                    while extra < 20 {
                        if closed.isSet { extra += 1 }
                        let request = Self.request(owner: owner)
                        let outcome = try await server.publish(request)
                        #expect(outcome == .accepted)
                        sent.append(request.id)
                    }
                    return sent
                }
            }
            group.addTask {
                try await Task.sleep(for: .milliseconds(200))
                try TestBroker.ctl(["close_all_user_connections", serverUser, "test: publisher connection loss"])
                closed.set()
                return []
            }
            return try await group.reduce(into: [String]()) { $0 += $1 }
        }
        await server.shutdown()
        #expect(log.messages.contains("lost the broker connection"))
        #expect(log.messages.contains("reconnected to the broker"))

        // At least once: every confirmed request is in the queue (a re-sent one may be twice).
        // Prefetch 0 is AMQP's "no limit": the test holds every request unacknowledged.
        let client = try await backend.client(owner: owner)
        let wanted = Set(ids)
        let requests = try await client.requests(owner: owner, prefetch: 0)
        let delivered = try await collect(from: requests, within: .seconds(30)) { seen in
            Set(seen.compactMap(\.id)).isSuperset(of: wanted)
        }
        let missing = wanted.subtracting(delivered.compactMap(\.id)).count
        #expect(missing == 0, "\(ids.count) confirmed, \(delivered.count) delivered")
        await client.shutdown()
        try TestBroker.ctl(["delete_user", serverUser])
    }

    @Test func idleConnectionIsKeptAliveByHeartbeats() async throws {
        let backend = try await RabbitMQBackend.start()
        let owner = RabbitMQBackend.uniqueOwner("idle")
        try await backend.subscribe(owner: owner, maxLengthBytes: nil)
        var url = try RabbitMQBackend.url(user: owner, password: RabbitMQBackend.password(of: owner))
        url.heartbeatSeconds = 1
        let client = RabbitMQTransport(url: url, logger: RabbitMQBackend.logger)
        _ = try await client.requests(owner: owner, prefetch: 1)
        let before = try Self.connectionPorts(of: owner)
        #expect(before.count == 1)
        // Without heartbeats from the loop the broker closes the connection after 2 missed ones.
        try await Task.sleep(for: .seconds(5))
        #expect(try Self.connectionPorts(of: owner) == before)
        await client.shutdown()
    }

    private static func connectionPorts(of user: String) throws -> Set<String> {
        let listing = try TestBroker.ctl(["-q", "list_connections", "user", "peer_port"])
        return Set(
            listing.split(separator: "\n").compactMap { line -> String? in
                let fields = line.split(separator: "\t")
                return fields.count == 2 && fields[0] == user ? String(fields[1]) : nil
            })
    }
}

/// A flag set once, read from many tasks.
private final class Flag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false

    /// Whether it was set.
    var isSet: Bool { lock.withLock { value } }

    /// Sets it.
    func set() { lock.withLock { value = true } }
}

/// A log handler that keeps the messages logged through it, for tests.
private final class LogRecorder: LogHandler, @unchecked Sendable {
    private let lock = NSLock()
    private var recorded: [String] = []

    var logLevel: Logger.Level = .trace
    var metadata: Logger.Metadata = [:]

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    /// The messages logged so far.
    var messages: [String] { lock.withLock { recorded } }

    func log(event: LogEvent) {
        lock.withLock { recorded.append(event.message.description) }
    }
}

/// TLS (`amqps://`) against RabbitMQ's own TLS listener on the TLS node (``TLSTestBroker``),
/// whose certificate, from a CA made for it, names `localhost` only.
@Suite(.enabled(if: TestBroker.enabled), .serialized)
struct RabbitMQTLSTests {
    /// A URL of the TLS node as the administrator.
    private static func url(host: String, options: String, password: String) throws -> AMQPURL {
        var url = try AMQPURL("amqps://\(host):\(TLSTestBroker.amqpsPort)/%2F?\(options)", password: password)
        url.user = TestBroker.adminUser
        url.password = password
        return url
    }

    /// Checks that connecting to `url` fails with ``TransportError/Code/tls``.
    private static func expectTLSRefusal(_ url: AMQPURL, sourceLocation: SourceLocation = #_sourceLocation) async {
        let transport = RabbitMQTransport(url: url, logger: RabbitMQBackend.logger)
        await #expect(sourceLocation: sourceLocation) {
            try await transport.connect()
        } throws: { error in
            (error as? TransportError)?.code == .tls
        }
        await transport.shutdown()
    }

    @Test func verifiedTLSToLocalhostCarriesARoundTrip() async throws {
        let backend = try await RabbitMQBackend.start(node: .tls)
        #expect(backend.node.url.hasPrefix("amqps://localhost:"))
        try await TransportConformance.roundTripPreservesEveryField(backend)
        try await TransportConformance.subscriptionReportsQueueAndConsumers(backend)
    }

    @Test func aWrongHostNameIsRefused() async throws {
        let password = try await TLSTestBroker.start()
        await Self.expectTLSRefusal(
            try Self.url(host: "127.0.0.1", options: "cacertfile=\(TLSTestBroker.caFile)", password: password))
        // Without verification the same address connects: the refusal above is the host name's.
        let unverified = RabbitMQTransport(
            url: try Self.url(host: "127.0.0.1", options: "verify=verify_none", password: password),
            logger: RabbitMQBackend.logger)
        try await unverified.connect()
        await unverified.shutdown()
    }

    @Test func anUnknownCAIsRefused() async throws {
        let password = try await TLSTestBroker.start()
        // Another CA of the same making, which never signed the node's certificate.
        let foreign = FileManager.default.temporaryDirectory.appendingPathComponent("filter-tls-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: foreign) }
        try TestBroker.runScript(["tls", foreign.path])
        let foreignCA = foreign.appendingPathComponent("tls/ca.pem").path
        await Self.expectTLSRefusal(try Self.url(host: "localhost", options: "cacertfile=\(foreignCA)", password: password))
        // No CA file: the system's trust store, which does not know the node's CA either.
        await Self.expectTLSRefusal(try Self.url(host: "localhost", options: "", password: password))
    }
}
