/// A ``FilterTransport`` to an ``InMemoryBroker``: one party's session, logged in as one broker
/// user, like one RabbitMQ connection.
///
/// The broker decides what the user may do (see ``InMemoryBroker``); the transport adds nothing
/// of its own, so the server and the clients of the embedded mode see the same rules as over
/// RabbitMQ. There is no connection to lose: streams end only at ``shutdown()``, or when the
/// consumer stops iterating; either way the stream's unacknowledged requests are delivered again.
/// ``DeliveryReceipt/connection`` is the session's number, unique within the broker.
public struct InMemoryTransport: FilterTransport {
    /// The broker this transport talks to.
    public let broker: InMemoryBroker
    /// The broker user it is logged in as; the `user_id` of its replies.
    public let user: String
    private let session: UInt64

    /// Logs in to `broker` as `user`. Unknown users may log in; they may do nothing but check
    /// subscriptions.
    public init(broker: InMemoryBroker, user: String) {
        self.broker = broker
        self.user = user
        self.session = broker.openSession(user: user)
    }

    /// Whether an owner has subscribed: their queue exists, and how many clients consume it.
    public func subscription(of owner: String) async throws(TransportError) -> Subscription {
        try broker.subscription(of: owner, session: session)
    }

    /// Publishes a request; the verdict is immediate.
    public func publish(_ request: OutgoingRequest) async throws(TransportError) -> PublishOutcome {
        try broker.publish(request, session: session)
    }

    /// Declares the server's reply queue if needed and consumes it exclusively.
    /// - Throws: ``TransportError/Code/accessRefused`` for a user that is not a server, or when
    ///   another consumer already holds the queue.
    public func replies(
        serverID: String
    ) async throws(TransportError) -> AsyncThrowingStream<ReceivedReply, any Error> {
        try broker.replies(serverID: serverID, session: session)
    }

    /// Acknowledges a reply; a receipt the transport no longer knows is ignored.
    public func acknowledge(_ reply: ReceivedReply) async throws(TransportError) {
        try broker.settle(reply.receipt, session: session, as: .acknowledge)
    }

    /// Publishes an event to the owner's events queues; without one it is dropped.
    /// - Throws: ``TransportError/Code/accessRefused`` for a user that is not a server.
    public func publishEvent(_ event: OutgoingEvent) async throws(TransportError) {
        try broker.publishEvent(event, session: session)
    }

    /// Consumes the owner's queue; a `prefetch` of 0 or less means no limit (AMQP's 0).
    /// - Throws: ``TransportError/Code/accessRefused`` when this user may not read the owner's
    ///   queue; ``TransportError/Code/protocolError`` when the queue does not exist.
    public func requests(
        owner: String, prefetch: Int
    ) async throws(TransportError) -> AsyncThrowingStream<DeliveredRequest, any Error> {
        try broker.requests(owner: owner, prefetch: prefetch, session: session)
    }

    /// Publishes the reply with this transport's user as `user_id` and acknowledges the request.
    /// - Throws: ``TransportError/Code/replyNotTaken`` for a server without a reply queue or
    ///   with a full one, as with RabbitMQ; the request is then not acknowledged.
    public func reply(_ reply: OutgoingReply, to request: DeliveredRequest) async throws(TransportError) {
        try broker.reply(reply, to: request, session: session)
    }

    /// Puts the request back at the front of its queue, flagged redelivered.
    public func requeue(_ request: DeliveredRequest) async throws(TransportError) {
        try broker.settle(request.receipt, session: session, as: .requeue)
    }

    /// Acknowledges a request without answering it.
    public func discard(_ request: DeliveredRequest) async throws(TransportError) {
        try broker.settle(request.receipt, session: session, as: .acknowledge)
    }

    /// Consumes the owner's events queue; a `prefetch` of 0 or less means no limit.
    /// - Throws: ``TransportError/Code/accessRefused`` when this user may not read the owner's
    ///   events queue; ``TransportError/Code/protocolError`` when the queue does not exist.
    public func events(
        owner: String, prefetch: Int
    ) async throws(TransportError) -> AsyncThrowingStream<DeliveredEvent, any Error> {
        try broker.events(owner: owner, prefetch: prefetch, session: session)
    }

    /// Acknowledges an event; a receipt the transport no longer knows is ignored.
    public func acknowledge(_ event: DeliveredEvent) async throws(TransportError) {
        try broker.settle(event.receipt, session: session, as: .acknowledge)
    }

    /// Ends the session: every stream finishes, unacknowledged requests and replies go back to
    /// their queues, and later calls throw ``TransportError/Code/closed``.
    public func shutdown() async {
        broker.closeSession(session)
    }
}
