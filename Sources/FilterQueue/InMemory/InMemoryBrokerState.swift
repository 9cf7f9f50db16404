import FilterCore

/// Everything the in-memory broker knows, changed only under its lock: users and what they
/// may do, queues and their bindings, sessions (one per ``InMemoryTransport``) and consumers.
///
/// The rules mirror RabbitMQ with the topology of wire protocol v1 (`filterctl setup` and
/// `filterctl user add`): see ``InMemoryBroker``.
struct InMemoryBrokerState: Sendable {
    /// What a broker user may do: the in-memory form of RabbitMQ's configure/write/read
    /// permissions for the two kinds of user wire protocol v1 has.
    struct Grants: Sendable {
        /// A server user: may publish to `mailfilter.requests` and `mailfilter.events`, declare
        /// and consume reply queues.
        var isServer = false
        /// An owner's user: may publish to `mailfilter.replies`.
        var mayReply = false
        /// The request and events queues the user may consume.
        var readableQueues: Set<String> = []
    }

    /// One queue.
    struct Queue: Sendable {
        /// The ready messages.
        var ready = InMemoryMessageBuffer()
        /// `max-length-bytes` with `overflow=reject-publish`, in octets of body; `nil` for none.
        var maxLengthBytes: Int?
        /// `max-length-bytes` with `overflow=drop-head`, in octets of body: the oldest ready
        /// messages go to make room; `nil` for none.
        var dropHeadBytes: Int?
        /// The consumers, in the order they are served (round robin).
        var consumers: [UInt64] = []
        /// Where the next round-robin search starts.
        var cursor = 0
        /// Whether the queue has an exclusive consumer.
        var isConsumedExclusively = false
    }

    /// One logged-in transport: AMQP's connection and channel.
    struct Session: Sendable {
        /// The broker user.
        var user: String
        /// The next delivery tag; tags count from 1 per session, as per AMQP channel.
        var nextDeliveryTag: UInt64 = 1
        /// The consumer each unacknowledged delivery tag belongs to.
        var deliveries: [UInt64: UInt64] = [:]
        /// The session's consumers.
        var consumers: Set<UInt64> = []
    }

    /// Where a consumer's deliveries go.
    enum Sink: Sendable {
        /// A client's request stream.
        case requests(AsyncThrowingStream<DeliveredRequest, any Error>.Continuation)
        /// A server's reply stream.
        case replies(AsyncThrowingStream<ReceivedReply, any Error>.Continuation)
        /// A consumer's stream of outcome events.
        case events(AsyncThrowingStream<DeliveredEvent, any Error>.Continuation)

        /// Hands a message to the stream; `false` when the stream has ended.
        func deliver(_ message: InMemoryMessage, receipt: DeliveryReceipt) -> Bool {
            switch self {
            case .requests(let continuation):
                let request = DeliveredRequest(
                    id: message.correlationID, replyTo: message.replyTo, queueID: message.messageID,
                    metadata: message.metadata, body: message.body, redelivered: message.redelivered,
                    receipt: receipt)
                if case .terminated = continuation.yield(request) { return false }
                return true
            case .replies(let continuation):
                let reply = ReceivedReply(
                    correlationID: message.correlationID, userID: message.userID, type: message.type,
                    body: message.body, receipt: receipt)
                if case .terminated = continuation.yield(reply) { return false }
                return true
            case .events(let continuation):
                let event = DeliveredEvent(
                    id: message.messageID, type: message.type, body: message.body, redelivered: message.redelivered,
                    receipt: receipt)
                if case .terminated = continuation.yield(event) { return false }
                return true
            }
        }

        /// Ends the stream normally.
        func finish() {
            switch self {
            case .requests(let continuation): continuation.finish()
            case .replies(let continuation): continuation.finish()
            case .events(let continuation): continuation.finish()
            }
        }
    }

    /// One consumer: a stream on one queue.
    struct Consumer: Sendable {
        /// The session it belongs to.
        var session: UInt64
        /// The queue it consumes.
        var queue: String
        /// At most this many unacknowledged deliveries; 0 for no limit (AMQP `basic.qos`).
        var prefetch: Int
        /// The stream.
        var sink: Sink
        /// Its unacknowledged deliveries by delivery tag.
        var unacknowledged: [UInt64: InMemoryMessage] = [:]

        /// Whether it may take one more delivery.
        var hasCapacity: Bool { prefetch <= 0 || unacknowledged.count < prefetch }
    }

    private(set) var grants: [String: Grants] = [:]
    private var queues: [String: Queue] = [:]
    /// Exchange name → routing key → queue name (direct exchanges, one queue per key).
    private var bindings: [String: [String: String]] = [:]
    /// The bindings of the topic exchange `mailfilter.events`: binding key and queue.
    private var eventBindings: [(key: String, queue: String)] = []
    private var sessions: [UInt64: Session] = [:]
    private var consumers: [UInt64: Consumer] = [:]
    private var nextIdentifier: UInt64 = 1

    // MARK: Administration

    /// Lets `user` act as a filter server.
    mutating func addServer(user: String) {
        grants[user, default: Grants()].isServer = true
    }

    /// Declares an owner's request queue (or updates its limit) and events queue, binds them
    /// with the owner as key and lets `user` consume both and reply.
    mutating func subscribe(
        owner: String, queue name: String, eventQueue: String, user: String, maxLengthBytes: Int?, eventQueueBytes: Int
    ) {
        queues[name, default: Queue()].maxLengthBytes = maxLengthBytes
        bindings[Topology.requestExchange, default: [:]][owner] = name
        queues[eventQueue, default: Queue()].dropHeadBytes = eventQueueBytes
        if !eventBindings.contains(where: { $0.key == owner && $0.queue == eventQueue }) {
            eventBindings.append((key: owner, queue: eventQueue))
        }
        grants[user, default: Grants()].readableQueues.formUnion([name, eventQueue])
        grants[user, default: Grants()].mayReply = true
    }

    // MARK: Sessions

    /// Opens a session for `user` and returns its number.
    mutating func openSession(user: String) -> UInt64 {
        let identifier = makeIdentifier()
        sessions[identifier] = Session(user: user)
        return identifier
    }

    /// The user of an open session.
    func user(ofSession session: UInt64) throws(TransportError) -> String {
        guard let user = sessions[session]?.user else {
            throw TransportError(.closed, "the in-memory transport was shut down")
        }
        return user
    }

    /// Checks RabbitMQ's `read` permission of `user` on a request or events queue.
    /// - Throws: ``TransportError/Code/accessRefused`` when the user may not consume it.
    func authorizeRead(_ queue: String, user: String) throws(TransportError) {
        guard grants[user]?.readableQueues.contains(queue) == true else {
            throw TransportError(.accessRefused, "broker user \(user) may not consume queue \(queue)")
        }
    }

    /// Closes a session: its consumers end, their unacknowledged messages are delivered again.
    /// Returns the streams to finish (outside the lock).
    mutating func closeSession(_ session: UInt64, now: ContinuousClock.Instant) -> [Sink] {
        guard let closed = sessions[session] else { return [] }
        var sinks: [Sink] = []
        for consumer in closed.consumers.sorted() {
            if let sink = removeConsumer(consumer, now: now) { sinks.append(sink) }
        }
        sessions[session] = nil
        return sinks
    }

    // MARK: Queues

    /// What a passive declare of the owner's queue says.
    func subscription(queue name: String) -> Subscription {
        guard let queue = queues[name] else { return .none }
        return queue.consumers.isEmpty ? .offline : .online(consumers: queue.consumers.count)
    }

    /// Declares a server's reply queue if needed and binds it with the server id.
    mutating func declareReplyQueue(serverID: String, queue name: String) {
        if queues[name] == nil { queues[name] = Queue() }
        bindings[Topology.replyExchange, default: [:]][serverID] = name
    }

    /// Publishes to a direct exchange. Returns `nil` when no queue is bound with the routing
    /// key (a `mandatory` publish comes back), else whether the queue took the message.
    mutating func publish(
        _ message: InMemoryMessage, exchange: String, routingKey: String, now: ContinuousClock.Instant
    ) -> Bool? {
        guard let name = bindings[exchange]?[routingKey], queues[name] != nil else { return nil }
        // No copy of the queue is kept here: a second reference would make the append below
        // copy the whole buffer.
        dropExpired(queue: name, now: now)
        if let limit = queues[name]?.maxLengthBytes {
            // Like RabbitMQ, the limit applies only to a message that cannot go to a consumer at once.
            let isReady = queues[name]?.ready.isEmpty == false
            let hasIdleConsumer = (queues[name]?.consumers ?? []).contains { consumers[$0]?.hasCapacity == true }
            let readyBytes = queues[name]?.ready.bodyBytes ?? 0
            if (isReady || !hasIdleConsumer) && readyBytes + message.body.count > limit { return false }
        }
        // Mutate in place (through the dictionary's accessor), so the buffer is never copied.
        queues[name]?.ready.append(message)
        dispatch(queue: name, now: now)
        return true
    }

    /// Publishes to the topic exchange `mailfilter.events`: a copy to every queue bound with a
    /// matching key, the oldest ready messages of a full queue dropped (`drop-head`). Returns
    /// how many queues took it (none is no error: the publish is not `mandatory`).
    mutating func publishEvent(_ message: InMemoryMessage, routingKey: String, now: ContinuousClock.Instant) -> Int {
        let targets = Set(eventBindings.filter { TopicKey.matches(binding: $0.key, routingKey: routingKey) }.map(\.queue))
        for name in targets.sorted() where queues[name] != nil {
            queues[name]?.ready.append(message)
            if let limit = queues[name]?.dropHeadBytes {
                while (queues[name]?.ready.bodyBytes ?? 0) > limit, queues[name]?.ready.removeFirst() != nil {}
            }
            dispatch(queue: name, now: now)
        }
        return targets.count
    }

    // MARK: Consumers

    /// Adds a consumer on an existing queue and delivers what is ready.
    /// - Throws: ``TransportError/Code/accessRefused`` when the queue is consumed exclusively,
    ///   or another consumer exists and `exclusive` is asked for.
    mutating func addConsumer(
        session: UInt64, queue name: String, prefetch: Int, exclusive: Bool, sink: Sink, now: ContinuousClock.Instant
    ) throws(TransportError) -> UInt64 {
        guard let isConsumedExclusively = queues[name]?.isConsumedExclusively,
            let existing = queues[name]?.consumers
        else {
            throw TransportError(.protocolError, "queue \(name) does not exist (NOT_FOUND)")
        }
        if isConsumedExclusively || (exclusive && !existing.isEmpty) {
            throw TransportError(.accessRefused, "queue \(name) is in exclusive use by another consumer")
        }
        let identifier = makeIdentifier()
        queues[name]?.consumers.append(identifier)
        queues[name]?.isConsumedExclusively = exclusive
        consumers[identifier] = Consumer(session: session, queue: name, prefetch: prefetch, sink: sink)
        sessions[session]?.consumers.insert(identifier)
        dispatch(queue: name, now: now)
        return identifier
    }

    /// Removes a consumer whose stream ended or whose session closed; its unacknowledged
    /// messages go back to the front of the queue, flagged redelivered. Returns its stream, or
    /// `nil` when it was already gone.
    mutating func removeConsumer(_ identifier: UInt64, now: ContinuousClock.Instant) -> Sink? {
        guard let consumer = consumers.removeValue(forKey: identifier) else { return nil }
        sessions[consumer.session]?.consumers.remove(identifier)
        var returned: [InMemoryMessage] = []
        for (tag, message) in consumer.unacknowledged.sorted(by: { $0.key < $1.key }) {
            sessions[consumer.session]?.deliveries[tag] = nil
            var again = message
            again.redelivered = true
            returned.append(again)
        }
        if queues[consumer.queue] != nil {
            queues[consumer.queue]?.consumers.removeAll { $0 == identifier }
            queues[consumer.queue]?.isConsumedExclusively = false
            queues[consumer.queue]?.ready.prepend(returned)
            dispatch(queue: consumer.queue, now: now)
        }
        return consumer.sink
    }

    /// Acknowledges a delivery, or puts it back at the front of its queue flagged redelivered
    /// (`basic.reject` with `requeue`). A receipt this session no longer knows (its consumer
    /// ended and the message went back to the queue) changes nothing: the message comes again.
    mutating func settle(
        _ receipt: DeliveryReceipt, session: UInt64, as settlement: DeliverySettlement, now: ContinuousClock.Instant
    ) {
        guard receipt.connection == session,
            let consumerID = sessions[session]?.deliveries.removeValue(forKey: receipt.deliveryTag),
            let queue = consumers[consumerID]?.queue,
            var message = consumers[consumerID]?.unacknowledged.removeValue(forKey: receipt.deliveryTag)
        else { return }
        if settlement == .requeue {
            message.redelivered = true
            queues[queue]?.ready.prepend([message])
        }
        dispatch(queue: queue, now: now)
    }

    // MARK: Delivery

    /// Hands ready messages to consumers with capacity, round robin, dropping expired ones.
    ///
    /// Every change goes through `queues[name]?`, the dictionary's in-place accessor, so a
    /// long queue is never copied.
    private mutating func dispatch(queue name: String, now: ContinuousClock.Instant) {
        while true {
            dropExpired(queue: name, now: now)
            guard queues[name]?.ready.isEmpty == false, let consumerID = nextConsumer(of: name),
                let sink = consumers[consumerID]?.sink, let session = consumers[consumerID]?.session,
                let tag = sessions[session]?.nextDeliveryTag,
                let message = queues[name]?.ready.removeFirst()
            else { return }
            let receipt = DeliveryReceipt(connection: session, deliveryTag: tag)
            guard sink.deliver(message, receipt: receipt) else {
                // The stream ended and its termination handler has not run yet: take the
                // consumer out now, this message first in line again.
                queues[name]?.ready.prepend([message])
                _ = removeConsumer(consumerID, now: now)
                continue
            }
            sessions[session]?.nextDeliveryTag += 1
            sessions[session]?.deliveries[tag] = consumerID
            consumers[consumerID]?.unacknowledged[tag] = message
        }
    }

    /// The next consumer of the queue with capacity after the cursor, advancing the cursor
    /// past it.
    private mutating func nextConsumer(of name: String) -> UInt64? {
        guard let candidates = queues[name]?.consumers, let cursor = queues[name]?.cursor, !candidates.isEmpty else {
            return nil
        }
        for step in 0..<candidates.count {
            let index = (cursor + step) % candidates.count
            if consumers[candidates[index]]?.hasCapacity == true {
                queues[name]?.cursor = (index + 1) % candidates.count
                return candidates[index]
            }
        }
        return nil
    }

    /// Drops expired messages from the front of the queue, as RabbitMQ does.
    private mutating func dropExpired(queue name: String, now: ContinuousClock.Instant) {
        while queues[name]?.ready.first?.hasExpired(at: now) == true {
            _ = queues[name]?.ready.removeFirst()
        }
    }

    private mutating func makeIdentifier() -> UInt64 {
        defer { nextIdentifier += 1 }
        return nextIdentifier
    }
}
