import FilterCore
import Foundation
import Logging

/// ``FilterTransport`` over RabbitMQ, through rabbitmq-c 0.11 (docs/transport.md).
///
/// Two connections, each owned by a thread of its own: one publishes (requests, replies,
/// events) with pipelined publisher confirms and makes the passive declares of
/// ``subscription(of:)``; the other consumes (the server's reply queue, an owner's request or
/// events queue). Both are opened when
/// first needed (``connect()`` opens the publishing one at once, to check the credentials)
/// and re-opened with backoff when lost.
///
/// The transport declares no exchanges: `mailfilter.requests`, `mailfilter.replies` and
/// `mailfilter.events` belong to `filterctl setup`, and a client has no `configure` permission
/// anyway. Publishing to a missing exchange fails with ``TransportError/Code/protocolError`` naming it. The server's
/// reply queue is declared (durable, no arguments: limits come from a policy) and bound, since
/// the server user may configure `mailfilter.server.*`.
public actor RabbitMQTransport: FilterTransport {
    /// Tuning of the RabbitMQ backend. Heartbeat, timeouts of connecting and TLS come from the
    /// ``AMQPURL``.
    public struct Configuration: Sendable, Hashable {
        /// Longest wait for the broker's answer to a synchronous method (declare, consume,
        /// qos). Default 30 s.
        public var rpcTimeout: Duration
        /// Wait before the first reconnection attempt; doubled after each failure. Default 200 ms.
        public var reconnectDelay: Duration
        /// Longest wait between reconnection attempts. Default 30 s.
        public var maximumReconnectDelay: Duration
        /// Unacknowledged replies the server's reply consumer may hold (`basic.qos`). Default 256.
        public var replyPrefetch: Int
        /// Frames the loop handles before it looks for new commands again. Default 256.
        public var framesPerTurn: Int
        /// Longest wait of ``RabbitMQTransport/publish(_:)`` and ``RabbitMQTransport/reply(_:to:)``
        /// for the broker's verdict, time spent reconnecting included; then they throw
        /// ``TransportError/Code/timedOut`` (checked every 250 ms). Default 30 s.
        public var publishTimeout: Duration

        /// The defaults.
        public init() {
            rpcTimeout = .seconds(30)
            reconnectDelay = .milliseconds(200)
            maximumReconnectDelay = .seconds(30)
            replyPrefetch = 256
            framesPerTurn = 256
            publishTimeout = .seconds(30)
        }
    }

    /// The `type` property of requests.
    public static let requestType = "mailfilter.request.v1"
    /// The `type` property of replies.
    public static let replyType = "mailfilter.reply.v1"
    /// The `type` property of outcome events.
    public static let eventType = "mailfilter.event.v1"
    /// The header that carries a request's metadata JSON.
    public static let metadataHeader = "x-mailfilter-request"

    /// The broker and the user this transport logs in as.
    public nonisolated let url: AMQPURL
    private let configuration: Configuration
    private let logger: Logger
    private var workers: [AMQPWorker.Role: AMQPWorker] = [:]
    private var starting: [AMQPWorker.Role: Task<AMQPWorker, any Error>] = [:]
    private var isShutDown = false
    private nonisolated let connectionStates = BrokerConnectionStates()

    /// Whether the transport is connected to the broker, and since when (for monitoring).
    public nonisolated var connectionState: BrokerConnectionState { connectionStates.combined }

    /// Creates a transport; it connects when first used (or on ``connect()``).
    /// - Parameters:
    ///   - url: the broker, user (with password) and virtual host.
    ///   - configuration: tuning; the defaults suit production.
    ///   - logger: where connection losses and reconnections are logged (info and below).
    public init(url: AMQPURL, configuration: Configuration = Configuration(), logger: Logger) {
        self.url = url
        self.configuration = configuration
        self.logger = logger
    }

    /// Opens the publishing connection now, so that a wrong password or an unreachable broker
    /// shows at start-up rather than at the first message.
    /// - Throws: ``TransportError`` with `authenticationFailed`, `accessRefused`,
    ///   `connectionFailed` or `tls`.
    public func connect() async throws(TransportError) {
        _ = try await worker(.publisher)
    }

    // MARK: Server side

    /// Passive declare of the owner's queue on the publishing connection's declaration channel
    /// (a missing queue closes that channel; it is reopened for the next call). Not cached.
    public func subscription(of owner: String) async throws(TransportError) -> Subscription {
        let queue = try Self.requestQueue(owner: owner)
        let state = try await worker(.publisher).declare { connection, channel throws(TransportError) in
            try connection.inspectQueue(channel: channel, name: queue)
        }
        switch state {
        case .missing: return .none
        case .present(let consumers): return consumers == 0 ? .offline : .online(consumers: consumers)
        }
    }

    /// Publishes the request persistent and `mandatory` to `mailfilter.requests` and waits for
    /// its confirm (other publishes stay in flight meanwhile).
    public func publish(_ request: OutgoingRequest) async throws(TransportError) -> PublishOutcome {
        try await worker(.publisher).publish(Self.message(for: request))
    }

    /// Declares `mailfilter.server.<serverID>` (durable), binds it to `mailfilter.replies`
    /// with the routing key `serverID`, and consumes it exclusively.
    public func replies(serverID: String) async throws(TransportError) -> AsyncThrowingStream<ReceivedReply, any Error> {
        try await stream(
            queue: Topology.replyQueue(serverID: serverID), binding: (Topology.replyExchange, serverID), exclusive: true,
            prefetch: configuration.replyPrefetch
        ) { delivery, session in
            ReceivedReply(
                correlationID: delivery.properties.correlationID, userID: delivery.properties.userID,
                type: delivery.properties.type, body: delivery.body,
                receipt: DeliveryReceipt(connection: session, deliveryTag: delivery.deliveryTag))
        }
    }

    /// Acknowledges a reply; one whose consumer session has ended is left alone (the broker
    /// delivers it again).
    public func acknowledge(_ reply: ReceivedReply) async throws(TransportError) {
        _ = try await worker(.consumer).settle(
            session: reply.receipt.connection, deliveryTag: reply.receipt.deliveryTag, as: .acknowledge)
    }

    /// Publishes the event persistent (not `mandatory`) to `mailfilter.events` and waits for
    /// its confirm, on the same confirm channel as requests.
    /// - Throws: ``TransportError/Code/protocolError`` when the broker refused it (`basic.nack`).
    public func publishEvent(_ event: OutgoingEvent) async throws(TransportError) {
        switch try await worker(.publisher).publish(Self.message(for: event)) {
        case .accepted, .unroutable:
            // Not mandatory, so never returned: an owner without an events queue has no listener.
            return
        case .rejected:
            throw TransportError(.protocolError, "the broker refused the event \(event.id) for \(event.owner)")
        }
    }

    // MARK: Client side

    /// Consumes `mailfilter.user.<owner>` (shared with the owner's other clients) with at most
    /// `prefetch` unacknowledged requests (`basic.qos`; 0 means no limit, as in AMQP).
    public func requests(owner: String, prefetch: Int) async throws(TransportError) -> AsyncThrowingStream<DeliveredRequest, any Error> {
        try await stream(queue: try Self.requestQueue(owner: owner), binding: nil, exclusive: false, prefetch: prefetch) {
            delivery, session in
            DeliveredRequest(
                id: delivery.properties.correlationID, replyTo: delivery.properties.replyTo,
                queueID: delivery.properties.messageID, metadata: delivery.properties.headers[Self.metadataHeader],
                body: delivery.body, redelivered: delivery.redelivered,
                receipt: DeliveryReceipt(connection: session, deliveryTag: delivery.deliveryTag))
        }
    }

    /// Publishes the reply (persistent, `mandatory`, `user_id` = this transport's user) and
    /// waits for its confirm, then acknowledges the request if its delivery is still current.
    /// - Throws: ``TransportError/Code/replyNotTaken`` when the reply came back (the server's
    ///   reply queue does not exist) or was refused (`basic.nack`, the queue is full); the
    ///   request is then not acknowledged (docs/protocol.md, client rule 7).
    public func reply(_ reply: OutgoingReply, to request: DeliveredRequest) async throws(TransportError) {
        switch try await worker(.publisher).publish(Self.message(for: reply, user: url.user)) {
        case .accepted:
            break
        case .unroutable:
            throw .replyCameBack(reply)
        case .rejected:
            throw .replyRefused(reply)
        }
        _ = try await worker(.consumer).settle(
            session: request.receipt.connection, deliveryTag: request.receipt.deliveryTag, as: .acknowledge)
    }

    /// Rejects the request with `requeue`, on the channel that delivered it, if that delivery
    /// is still current.
    public func requeue(_ request: DeliveredRequest) async throws(TransportError) {
        _ = try await worker(.consumer).settle(
            session: request.receipt.connection, deliveryTag: request.receipt.deliveryTag, as: .requeue)
    }

    /// Acknowledges a request without answering it (no `correlation_id` or `reply_to`); one
    /// whose delivery died with an earlier connection is left alone.
    public func discard(_ request: DeliveredRequest) async throws(TransportError) {
        _ = try await worker(.consumer).settle(
            session: request.receipt.connection, deliveryTag: request.receipt.deliveryTag, as: .acknowledge)
    }

    /// Consumes `mailfilter.events.<owner>` (shared with the owner's other consumers) with at
    /// most `prefetch` unacknowledged events (`basic.qos`; 0 means no limit).
    public func events(owner: String, prefetch: Int) async throws(TransportError) -> AsyncThrowingStream<DeliveredEvent, any Error> {
        let queue: String
        do {
            queue = try Topology.eventQueue(owner: owner)
        } catch {
            throw TransportError(.protocolError, error.description)
        }
        return try await stream(queue: queue, binding: nil, exclusive: false, prefetch: prefetch) { delivery, session in
            DeliveredEvent(
                id: delivery.properties.messageID, type: delivery.properties.type, body: delivery.body,
                redelivered: delivery.redelivered,
                receipt: DeliveryReceipt(connection: session, deliveryTag: delivery.deliveryTag))
        }
    }

    /// Acknowledges an event; one whose consumer session has ended is left alone (the broker
    /// delivers it again).
    public func acknowledge(_ event: DeliveredEvent) async throws(TransportError) {
        _ = try await worker(.consumer).settle(
            session: event.receipt.connection, deliveryTag: event.receipt.deliveryTag, as: .acknowledge)
    }

    // MARK: Both

    /// Closes both connections; streams finish, later calls throw ``TransportError/Code/closed``.
    public func shutdown() async {
        isShutDown = true
        let pending = starting.values
        starting.removeAll()
        for task in pending { _ = try? await task.value }
        let running = workers.values
        workers.removeAll()
        for worker in running { await worker.stop() }
    }

    // MARK: Administration (tests and tools of this package)

    /// Declares a durable exchange (`direct`, `topic`), as `filterctl setup` does.
    package func declareExchange(_ name: String, type: String) async throws(TransportError) {
        try await worker(.publisher).declare { connection, channel throws(TransportError) in
            try connection.declareExchange(channel: channel, name: name, type: type)
        }
    }

    /// Declares a durable queue with arguments and binds it to an exchange.
    package func declareQueue(
        _ name: String, arguments: [String: AMQPArgument], boundTo exchange: String, routingKey: String
    ) async throws(TransportError) {
        try await worker(.publisher).declare { connection, channel throws(TransportError) in
            try connection.declareQueue(channel: channel, name: name, arguments: arguments)
            try connection.bindQueue(channel: channel, queue: name, exchange: exchange, routingKey: routingKey)
        }
    }

    /// Deletes a queue.
    package func deleteQueue(_ name: String) async throws(TransportError) {
        try await worker(.publisher).declare { connection, channel throws(TransportError) in
            try connection.deleteQueue(channel: channel, name: name)
        }
    }

    /// Publishes any message on the confirm channel and waits for the verdict: for tests of
    /// what the broker refuses (another `user_id`, an exchange without write permission).
    package func publish(_ message: AMQPOutgoingMessage) async throws(TransportError) -> PublishOutcome {
        try await worker(.publisher).publish(message)
    }

    /// Takes one message from a queue with `basic.get` (acknowledged at once), with all its
    /// properties, or `nil` when the queue is empty.
    package func get(from queue: String) async throws(TransportError) -> AMQPDelivery? {
        try await worker(.publisher).declare { connection, channel throws(TransportError) in
            try connection.get(channel: channel, queue: queue)
        }
    }

    // MARK: Helpers

    /// The AMQP message of a request, with the properties of DESIGN.md's wire protocol v1.
    package static func message(for request: OutgoingRequest) -> AMQPOutgoingMessage {
        let milliseconds = max(0, request.expiration.wholeMilliseconds)
        return AMQPOutgoingMessage(
            exchange: Topology.requestExchange, routingKey: request.owner, mandatory: true,
            properties: AMQPProperties(
                contentType: "message/rfc822", deliveryMode: 2, correlationID: request.id, replyTo: request.serverID,
                expiration: String(milliseconds), messageID: request.queueID,
                timestamp: amqpTimestamp(request.timestamp), type: Self.requestType,
                headers: [Self.metadataHeader: request.metadata]),
            body: request.body)
    }

    /// The AMQP message of a reply: persistent JSON, `mandatory`, with the login user as
    /// `user_id` (which the broker checks).
    package static func message(for reply: OutgoingReply, user: String) -> AMQPOutgoingMessage {
        AMQPOutgoingMessage(
            exchange: Topology.replyExchange, routingKey: reply.serverID, mandatory: true,
            properties: AMQPProperties(
                contentType: "application/json", deliveryMode: 2, correlationID: reply.id, type: replyType, userID: user),
            body: reply.body)
    }

    /// The AMQP message of an outcome event: persistent JSON, not `mandatory`.
    package static func message(for event: OutgoingEvent) -> AMQPOutgoingMessage {
        AMQPOutgoingMessage(
            exchange: Topology.eventExchange, routingKey: event.owner, mandatory: false,
            properties: AMQPProperties(
                contentType: "application/json", deliveryMode: 2, messageID: event.id,
                timestamp: amqpTimestamp(event.timestamp), type: eventType),
            body: event.body)
    }

    /// AMQP's `timestamp`: whole seconds since 1970.
    private static func amqpTimestamp(_ date: Date) -> UInt64 {
        UInt64(max(0, date.timeIntervalSince1970.rounded(.down)))
    }

    private static func requestQueue(owner: String) throws(TransportError) -> String {
        do {
            return try Topology.requestQueue(owner: owner)
        } catch {
            throw TransportError(.protocolError, error.description)
        }
    }

    private func stream<Element: Sendable>(
        queue: String, binding: (String, String)?, exclusive: Bool, prefetch: Int,
        convert: @escaping @Sendable (AMQPDelivery, UInt64) -> Element
    ) async throws(TransportError) -> AsyncThrowingStream<Element, any Error> {
        let consumerWorker = try await worker(.consumer)
        let (stream, continuation) = AsyncThrowingStream<Element, any Error>.makeStream()
        let id = try await consumerWorker.consume(
            queue: queue, binding: binding.map { (exchange: $0.0, routingKey: $0.1) }, exclusive: exclusive,
            prefetch: prefetch,
            deliver: { delivery, session in continuation.yield(convert(delivery, session)) },
            finish: { error in continuation.finish(throwing: error) })
        continuation.onTermination = { _ in consumerWorker.cancelConsumer(id) }
        return stream
    }

    private func worker(_ role: AMQPWorker.Role) async throws(TransportError) -> AMQPWorker {
        guard !isShutDown else { throw TransportError(.closed, "the transport was shut down") }
        if let worker = workers[role] { return worker }
        let task: Task<AMQPWorker, any Error>
        if let pending = starting[role] {
            task = pending
        } else {
            let worker = try AMQPWorker(
                role: role, url: url, configuration: configuration, states: connectionStates, logger: logger)
            task = Task {
                try await worker.start()
                return worker
            }
            starting[role] = task
        }
        do {
            let worker = try await task.value
            starting[role] = nil
            guard !isShutDown else {
                await worker.stop()
                throw TransportError(.closed, "the transport was shut down")
            }
            workers[role] = worker
            return worker
        } catch {
            starting[role] = nil
            throw error as? TransportError ?? TransportError(.connectionFailed, "\(error)")
        }
    }
}
