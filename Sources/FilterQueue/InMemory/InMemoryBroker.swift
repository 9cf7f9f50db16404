import FilterCore

/// A message broker in memory with RabbitMQ's semantics for the topology of wire protocol v1,
/// for unit tests and the embedded mode (`filterd all-in-one`).
///
/// Set it up the way `filterctl setup` and `filterctl user add` set up RabbitMQ: one
/// ``addServer(user:serverID:)`` for the filter server's user, one ``subscribe(owner:user:maxLengthBytes:)``
/// per owner. Then each party talks to it through its own ``InMemoryTransport``.
///
/// What it keeps from RabbitMQ:
/// - permissions: only a server user publishes requests and events and consumes reply queues;
///   an owner's user consumes only the request and events queues it was subscribed to and
///   publishes only replies; anything else is ``TransportError/Code/accessRefused``;
/// - events: `mailfilter.events` is a topic exchange (binding keys with `*` and `#`), events
///   are not `mandatory`, and an events queue keeps at most
///   ``QueueLimits/eventQueueDefault``'s `max-length-bytes` of events, dropping the oldest
///   (`overflow=drop-head`; there is no time-to-live in memory);
/// - `mandatory`: a request for an owner without a queue is ``PublishOutcome/unroutable``;
/// - `max-length-bytes` with `overflow=reject-publish`: a request that cannot go to a consumer
///   at once and would take the ready bodies over the limit is ``PublishOutcome/rejected``;
/// - per-message `expiration`: an expired request is dropped, never delivered;
/// - `basic.qos`: at most `prefetch` unacknowledged deliveries per consumer, served round robin;
/// - requests delivered but not acknowledged when their stream ends or their transport shuts
///   down go back to the front of the queue and come again flagged `redelivered`;
/// - reply queues are consumed exclusively; `user_id` is the publishing transport's user.
///
/// It keeps nothing on disk: the embedded server's spool, not the broker, makes mail durable.
/// All state sits behind one lock; deliveries are pushed into the consumers' streams, so
/// nothing polls.
public final class InMemoryBroker: Sendable {
    private let state = InMemoryLocked(InMemoryBrokerState())

    /// Creates an empty broker: no users, no queues.
    public init() {}

    /// Lets `user` act as a filter server: publish requests, check subscriptions, declare and
    /// consume its reply queue.
    /// - Parameter serverID: When given, also declares that server's reply queue, as
    ///   `filterctl setup` does on RabbitMQ, so that a reply published before the server starts
    ///   consuming waits in the queue instead of coming back unroutable. Without it, the queue
    ///   is declared when the server first consumes its replies.
    public func addServer(user: String, serverID: String? = nil) {
        state.withLock { state in
            state.addServer(user: user)
            if let serverID {
                state.declareReplyQueue(serverID: serverID, queue: Topology.replyQueue(serverID: serverID))
            }
        }
    }

    /// Subscribes an owner, as `filterctl user add` does: declares the queue
    /// `mailfilter.user.<owner>` bound to `mailfilter.requests` and the events queue
    /// `mailfilter.events.<owner>` bound to `mailfilter.events`, both with the owner as routing
    /// key, and lets `user` consume both and publish replies. Subscribing again changes the limit.
    ///
    /// - Parameters:
    ///   - owner: The canonical owner address.
    ///   - user: The broker user of the owner's client (normally the owner address itself).
    ///   - maxLengthBytes: The queue's `max-length-bytes` in octets of message body (with
    ///     `overflow=reject-publish`); `nil` for no limit.
    /// - Throws: ``TopologyError`` when a queue name would exceed 255 octets.
    public func subscribe(owner: String, user: String, maxLengthBytes: Int? = nil) throws(TopologyError) {
        let queue = try Topology.requestQueue(owner: owner)
        let eventQueue = try Topology.eventQueue(owner: owner)
        state.withLock {
            $0.subscribe(
                owner: owner, queue: queue, eventQueue: eventQueue, user: user, maxLengthBytes: maxLengthBytes,
                eventQueueBytes: QueueLimits.eventQueueDefault.maxLengthBytes)
        }
    }

    // MARK: For InMemoryTransport

    func openSession(user: String) -> UInt64 {
        state.withLock { $0.openSession(user: user) }
    }

    func closeSession(_ session: UInt64) {
        let sinks = state.withLock { $0.closeSession(session, now: .now) }
        // Outside the lock: finishing a stream runs its termination handler, which takes it.
        for sink in sinks { sink.finish() }
    }

    func subscription(of owner: String, session: UInt64) throws(TransportError) -> Subscription {
        let queue = try? Topology.requestQueue(owner: owner)
        return try state.withLock { (state) throws(TransportError) in
            _ = try state.user(ofSession: session)
            // An owner whose queue name would be too long cannot have subscribed.
            return queue.map { state.subscription(queue: $0) } ?? .none
        }
    }

    func publish(_ request: OutgoingRequest, session: UInt64) throws(TransportError) -> PublishOutcome {
        let now = ContinuousClock.now
        let message = InMemoryMessage(
            correlationID: request.id, replyTo: request.serverID, messageID: request.queueID,
            metadata: request.metadata, type: "mailfilter.request.v1", body: request.body,
            expiresAt: now.advanced(by: max(request.expiration, .zero)))
        return try state.withLock { (state) throws(TransportError) in
            let user = try state.user(ofSession: session)
            guard state.grants[user]?.isServer == true else {
                throw TransportError(
                    .accessRefused, "broker user \(user) may not publish to exchange \(Topology.requestExchange)")
            }
            switch state.publish(message, exchange: Topology.requestExchange, routingKey: request.owner, now: now) {
            case nil: return .unroutable
            case false?: return .rejected
            case true?: return .accepted
            }
        }
    }

    func publishEvent(_ event: OutgoingEvent, session: UInt64) throws(TransportError) {
        let message = InMemoryMessage(
            messageID: event.id, type: "mailfilter.event.v1", body: event.body)
        try state.withLock { (state) throws(TransportError) in
            let user = try state.user(ofSession: session)
            guard state.grants[user]?.isServer == true else {
                throw TransportError(
                    .accessRefused, "broker user \(user) may not publish to exchange \(Topology.eventExchange)")
            }
            _ = state.publishEvent(message, routingKey: event.owner, now: .now)
        }
    }

    func events(
        owner: String, prefetch: Int, session: UInt64
    ) throws(TransportError) -> AsyncThrowingStream<DeliveredEvent, any Error> {
        let queue: String
        do {
            queue = try Topology.eventQueue(owner: owner)
        } catch {
            throw TransportError(.protocolError, error.description)
        }
        let (stream, continuation) = AsyncThrowingStream.makeStream(of: DeliveredEvent.self)
        try consume(queue: queue, session: session, prefetch: prefetch, exclusive: false, sink: .events(continuation)) {
            (state, user) throws(TransportError) in
            try state.authorizeRead(queue, user: user)
        }
        return stream
    }

    func replies(
        serverID: String, session: UInt64
    ) throws(TransportError) -> AsyncThrowingStream<ReceivedReply, any Error> {
        let queue = Topology.replyQueue(serverID: serverID)
        let (stream, continuation) = AsyncThrowingStream.makeStream(of: ReceivedReply.self)
        try consume(queue: queue, session: session, prefetch: 0, exclusive: true, sink: .replies(continuation)) {
            (state, user) throws(TransportError) in
            guard state.grants[user]?.isServer == true else {
                throw TransportError(.accessRefused, "broker user \(user) may not consume queue \(queue)")
            }
            state.declareReplyQueue(serverID: serverID, queue: queue)
        }
        return stream
    }

    func requests(
        owner: String, prefetch: Int, session: UInt64
    ) throws(TransportError) -> AsyncThrowingStream<DeliveredRequest, any Error> {
        let queue: String
        do {
            queue = try Topology.requestQueue(owner: owner)
        } catch {
            throw TransportError(.protocolError, error.description)
        }
        let (stream, continuation) = AsyncThrowingStream.makeStream(of: DeliveredRequest.self)
        try consume(queue: queue, session: session, prefetch: prefetch, exclusive: false, sink: .requests(continuation)) {
            (state, user) throws(TransportError) in
            try state.authorizeRead(queue, user: user)
        }
        return stream
    }

    func reply(_ reply: OutgoingReply, to request: DeliveredRequest, session: UInt64) throws(TransportError) {
        let now = ContinuousClock.now
        try state.withLock { (state) throws(TransportError) in
            let user = try state.user(ofSession: session)
            guard state.grants[user]?.mayReply == true else {
                throw TransportError(
                    .accessRefused, "broker user \(user) may not publish to exchange \(Topology.replyExchange)")
            }
            let message = InMemoryMessage(
                correlationID: reply.id, userID: user, type: "mailfilter.reply.v1", body: reply.body)
            switch state.publish(message, exchange: Topology.replyExchange, routingKey: reply.serverID, now: now) {
            case true?:
                state.settle(request.receipt, session: session, as: .acknowledge, now: now)
            case false?:
                throw .replyRefused(reply)
            case nil:
                throw .replyCameBack(reply)
            }
        }
    }

    /// Acknowledges or requeues a delivery of this session.
    func settle(_ receipt: DeliveryReceipt, session: UInt64, as settlement: DeliverySettlement) throws(TransportError) {
        let now = ContinuousClock.now
        try state.withLock { (state) throws(TransportError) in
            _ = try state.user(ofSession: session)
            state.settle(receipt, session: session, as: settlement, now: now)
        }
    }

    /// Checks the session and `authorize`, then adds a consumer whose stream's end removes it
    /// again (so its unacknowledged messages are delivered again).
    private func consume(
        queue: String, session: UInt64, prefetch: Int, exclusive: Bool, sink: InMemoryBrokerState.Sink,
        authorize: (inout InMemoryBrokerState, String) throws(TransportError) -> Void
    ) throws(TransportError) {
        let consumer = try state.withLock { (state) throws(TransportError) -> UInt64 in
            let user = try state.user(ofSession: session)
            try authorize(&state, user)
            return try state.addConsumer(
                session: session, queue: queue, prefetch: prefetch, exclusive: exclusive, sink: sink, now: .now)
        }
        let end: @Sendable (Any) -> Void = { [weak self] _ in self?.consumerEnded(consumer) }
        switch sink {
        case .requests(let continuation): continuation.onTermination = { end($0) }
        case .replies(let continuation): continuation.onTermination = { end($0) }
        case .events(let continuation): continuation.onTermination = { end($0) }
        }
    }

    private func consumerEnded(_ consumer: UInt64) {
        _ = state.withLock { $0.removeConsumer(consumer, now: .now) }
    }
}
