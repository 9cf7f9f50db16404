import Foundation

/// The RPC between the filter server and the users' clients (DESIGN.md, flow steps 4 and 5;
/// docs/protocol.md), independent of the broker that carries it.
///
/// One instance is one party's session with the broker, logged in as one broker user: the
/// server uses the server-side calls, a client the client-side calls. Backends: RabbitMQ
/// (`RabbitMQTransport`, over rabbitmq-c) and in memory (`InMemoryTransport`, for tests and the
/// embedded mode). Both keep the same semantics, checked by one conformance test suite:
///
/// - requests are published `mandatory` with publisher confirms; an unroutable request is
///   ``PublishOutcome/unroutable`` and a refused one (queue full) ``PublishOutcome/rejected``;
/// - a request expires in its queue when ``OutgoingRequest/expiration`` has passed;
/// - a request is acknowledged only after the reply to it was confirmed; requests that were
///   delivered but not acknowledged when a client goes away are delivered again, flagged
///   ``DeliveredRequest/redelivered``;
/// - a reply carries the broker user of the client that sent it (``ReceivedReply/userID``),
///   set by the transport and validated by the broker, never chosen by the caller;
/// - outcome events go to the topic exchange `mailfilter.events` with the owner as routing
///   key, persistent and confirmed but not `mandatory`; only a server may publish them, and an
///   owner may read only their own events queue;
/// - streams survive reconnections: a backend that loses its connection reconnects with
///   backoff, declares what it needs again and re-sends what was not confirmed. A stream ends
///   when the transport is shut down, or throws a ``TransportError`` that reconnecting cannot
///   cure (for example an authentication failure).
public protocol FilterTransport: Sendable {
    // MARK: Server side

    /// Whether an owner has subscribed: their request queue exists, and how many clients
    /// consume it.
    func subscription(of owner: String) async throws(TransportError) -> Subscription

    /// Publishes a request and waits for the broker's verdict on it.
    func publish(_ request: OutgoingRequest) async throws(TransportError) -> PublishOutcome

    /// The replies arriving on the server's reply queue `mailfilter.server.<serverID>`, which
    /// this transport consumes exclusively. Acknowledge each with ``acknowledge(_:)`` once it
    /// has been acted upon (or found bad); unacknowledged replies come again after a
    /// reconnection.
    func replies(serverID: String) async throws(TransportError) -> AsyncThrowingStream<ReceivedReply, any Error>

    /// Acknowledges a reply taken from ``replies(serverID:)``.
    func acknowledge(_ reply: ReceivedReply) async throws(TransportError)

    /// Publishes an outcome event to the topic exchange `mailfilter.events`, persistent, with
    /// the owner as routing key, and waits for the broker's confirm. Not `mandatory`: an owner
    /// without an events queue has no listener, and the event is dropped by the broker.
    /// - Throws: ``TransportError``; ``TransportError/Code/protocolError`` when the broker
    ///   refused the event (`basic.nack`).
    func publishEvent(_ event: OutgoingEvent) async throws(TransportError)

    // MARK: Client side

    /// The requests arriving on an owner's queue `mailfilter.user.<owner>`, at most `prefetch`
    /// of them unacknowledged at a time.
    func requests(owner: String, prefetch: Int) async throws(TransportError) -> AsyncThrowingStream<DeliveredRequest, any Error>

    /// Publishes a reply (persistent, `mandatory`, with this transport's broker user as
    /// `user_id`), waits for the broker's confirm, then acknowledges the request it answers.
    ///
    /// When the request's delivery died with an earlier connection it cannot be acknowledged
    /// any more; the broker delivers it again and the client answers it again.
    /// - Throws: ``TransportError/Code/replyNotTaken`` when the reply came back or was refused
    ///   (docs/protocol.md, client rule 7): the request is not acknowledged, and the caller
    ///   gives it back with ``requeue(_:)`` after a pause.
    func reply(_ reply: OutgoingReply, to request: DeliveredRequest) async throws(TransportError)

    /// Gives a request back to the broker unanswered (`basic.reject` with `requeue`), so that
    /// it is delivered again, marked redelivered. A request whose delivery died with an earlier
    /// connection is left alone: the broker delivers it again anyway.
    func requeue(_ request: DeliveredRequest) async throws(TransportError)

    /// Acknowledges a request without answering it: for a request that cannot be answered
    /// (no `correlation_id` or no `reply_to`), which would otherwise come back forever.
    func discard(_ request: DeliveredRequest) async throws(TransportError)

    /// The outcome events arriving on an owner's events queue `mailfilter.events.<owner>`, at
    /// most `prefetch` of them unacknowledged at a time (0: no limit). Acknowledge each with
    /// ``acknowledge(_:)`` once handled; unacknowledged events come again.
    func events(owner: String, prefetch: Int) async throws(TransportError) -> AsyncThrowingStream<DeliveredEvent, any Error>

    /// Acknowledges an event taken from ``events(owner:prefetch:)``; one whose delivery died
    /// with an earlier connection is left alone (it comes again).
    func acknowledge(_ event: DeliveredEvent) async throws(TransportError)

    // MARK: Both

    /// Closes the connections; every stream finishes and later calls throw
    /// ``TransportError/Code/closed``.
    func shutdown() async
}

/// What a passive declare of an owner's request queue says.
public enum Subscription: Sendable, Hashable {
    /// No queue: the owner has not subscribed; the default action applies.
    case none
    /// A queue, but no client consumes it: the owner's offline policy applies.
    case offline
    /// A queue with this many consumers.
    case online(consumers: Int)
}

/// The broker's verdict on one published request.
public enum PublishOutcome: Sendable, Hashable {
    /// Confirmed: the request is in the owner's queue.
    case accepted
    /// Returned as unroutable (`basic.return`): the owner's queue does not exist (any more).
    case unroutable
    /// Refused (`basic.nack`), normally because the owner's queue is at its length limit.
    case rejected
}

/// A request as the server publishes it (docs/protocol.md, "Request").
public struct OutgoingRequest: Sendable, Hashable {
    /// The request id: `correlation_id`.
    public var id: String
    /// The canonical owner: the routing key on `mailfilter.requests`.
    public var owner: String
    /// The server's id: `reply_to`.
    public var serverID: String
    /// The spool queue id: `message_id`.
    public var queueID: String
    /// The metadata JSON, carried in the header `x-mailfilter-request`.
    public var metadata: String
    /// The raw message, cut at the server's `maxRequestBytes`.
    public var body: [UInt8]
    /// How long the request may wait in the queue: `expiration`, in whole milliseconds.
    public var expiration: Duration
    /// When the request was made: `timestamp`.
    public var timestamp: Date

    /// Creates a request.
    public init(
        id: String, owner: String, serverID: String, queueID: String, metadata: String,
        body: [UInt8], expiration: Duration, timestamp: Date
    ) {
        self.id = id
        self.owner = owner
        self.serverID = serverID
        self.queueID = queueID
        self.metadata = metadata
        self.body = body
        self.expiration = expiration
        self.timestamp = timestamp
    }
}

/// An outcome event as the server publishes it (docs/protocol.md, "Events").
public struct OutgoingEvent: Sendable, Hashable {
    /// The event id (the request id of the recipient): `message_id`.
    public var id: String
    /// The canonical owner: the routing key on `mailfilter.events`.
    public var owner: String
    /// The event JSON (``FilterCore/OutcomeEvent``).
    public var body: [UInt8]
    /// When the outcome became final: `timestamp`.
    public var timestamp: Date

    /// Creates an event.
    public init(id: String, owner: String, body: [UInt8], timestamp: Date) {
        self.id = id
        self.owner = owner
        self.body = body
        self.timestamp = timestamp
    }
}

/// An outcome event as a consumer of an events queue receives it.
public struct DeliveredEvent: Sendable, Hashable {
    /// `message_id`: the event id, `nil` when the publisher sent none.
    public var id: String?
    /// `type`, when present (`mailfilter.event.v1`).
    public var type: String?
    /// The event JSON, unchecked.
    public var body: [UInt8]
    /// Whether the broker delivered this event before.
    public var redelivered: Bool
    /// Identifies this delivery to the transport that produced it.
    public var receipt: DeliveryReceipt

    /// Creates a delivered event.
    public init(id: String?, type: String?, body: [UInt8], redelivered: Bool, receipt: DeliveryReceipt) {
        self.id = id
        self.type = type
        self.body = body
        self.redelivered = redelivered
        self.receipt = receipt
    }
}

/// A request as a client receives it.
public struct DeliveredRequest: Sendable, Hashable {
    /// `correlation_id`: the request id, `nil` when the publisher sent none.
    public var id: String?
    /// `reply_to`: the server to answer, `nil` when the publisher sent none.
    public var replyTo: String?
    /// `message_id`: the server's queue id.
    public var queueID: String?
    /// The header `x-mailfilter-request`, when present and a string.
    public var metadata: String?
    /// The raw message (possibly cut; see the metadata's `truncated`).
    public var body: [UInt8]
    /// Whether the broker delivered this request before (to this or another client).
    public var redelivered: Bool
    /// Identifies this delivery to the transport that produced it.
    public var receipt: DeliveryReceipt

    /// Creates a delivered request.
    public init(
        id: String?, replyTo: String?, queueID: String?, metadata: String?, body: [UInt8],
        redelivered: Bool, receipt: DeliveryReceipt
    ) {
        self.id = id
        self.replyTo = replyTo
        self.queueID = queueID
        self.metadata = metadata
        self.body = body
        self.redelivered = redelivered
        self.receipt = receipt
    }
}

/// A reply as a client publishes it (docs/protocol.md, "Reply").
public struct OutgoingReply: Sendable, Hashable {
    /// The request id: `correlation_id`.
    public var id: String
    /// The server to answer: the routing key on `mailfilter.replies` (the request's `reply_to`).
    public var serverID: String
    /// The reply JSON.
    public var body: [UInt8]

    /// Creates a reply.
    public init(id: String, serverID: String, body: [UInt8]) {
        self.id = id
        self.serverID = serverID
        self.body = body
    }
}

/// A reply as the server receives it, before any checking.
public struct ReceivedReply: Sendable, Hashable {
    /// `correlation_id`, when present.
    public var correlationID: String?
    /// `user_id`: the broker user that published the reply, validated by the broker.
    public var userID: String?
    /// `type`, when present (`mailfilter.reply.v1`).
    public var type: String?
    /// The reply JSON, unchecked.
    public var body: [UInt8]
    /// Identifies this delivery to the transport that produced it.
    public var receipt: DeliveryReceipt

    /// Creates a received reply.
    public init(correlationID: String?, userID: String?, type: String?, body: [UInt8], receipt: DeliveryReceipt) {
        self.correlationID = correlationID
        self.userID = userID
        self.type = type
        self.body = body
        self.receipt = receipt
    }
}

/// Identifies one delivery to the transport that made it: the connection it arrived on and
/// the broker's delivery tag. A receipt from an earlier connection can no longer be
/// acknowledged (AMQP delivery tags die with their channel).
public struct DeliveryReceipt: Sendable, Hashable {
    /// Which connection of the transport delivered it, counting reconnections.
    public var connection: UInt64
    /// The broker's delivery tag on that connection.
    public var deliveryTag: UInt64

    /// Creates a receipt.
    public init(connection: UInt64, deliveryTag: UInt64) {
        self.connection = connection
        self.deliveryTag = deliveryTag
    }
}

/// A failure of the transport, with a message an operator understands.
public struct TransportError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What kind of failure.
    public struct Code: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
        public var rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

        /// The broker URL is not valid.
        public static let invalidURL = Code(rawValue: "invalid-url")
        /// The broker could not be reached, or the connection broke.
        public static let connectionFailed = Code(rawValue: "connection-failed")
        /// The broker refused the user name or password.
        public static let authenticationFailed = Code(rawValue: "authentication-failed")
        /// The broker refused an operation for lack of permission (`ACCESS_REFUSED`).
        public static let accessRefused = Code(rawValue: "access-refused")
        /// TLS failed: certificate, host name or handshake.
        public static let tls = Code(rawValue: "tls")
        /// The broker sent something the transport cannot handle, or closed a channel.
        public static let protocolError = Code(rawValue: "protocol-error")
        /// The operation timed out.
        public static let timedOut = Code(rawValue: "timed-out")
        /// The transport was shut down.
        public static let closed = Code(rawValue: "closed")
        /// The broker did not take a reply: the server's reply queue does not exist (the reply
        /// came back) or is full (`basic.nack`). The request it answers stays unacknowledged.
        public static let replyNotTaken = Code(rawValue: "reply-not-taken")
    }

    /// What kind of failure.
    public var code: Code
    /// What happened, for the operator (never contains a password).
    public var message: String

    /// Creates an error.
    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code): \(message)" }
}

extension TransportError {
    /// A reply the broker returned: no queue is bound for its server.
    static func replyCameBack(_ reply: OutgoingReply) -> TransportError {
        TransportError(.replyNotTaken, "the reply to \(reply.id) came back: server \(reply.serverID) has no reply queue")
    }

    /// A reply the broker refused (`basic.nack`), normally because the server's queue is full.
    static func replyRefused(_ reply: OutgoingReply) -> TransportError {
        TransportError(
            .replyNotTaken, "the broker refused the reply to \(reply.id) for server \(reply.serverID) (reply queue full?)")
    }
}

/// What a consumer tells the broker about a delivery, in both backends.
enum DeliverySettlement: Sendable {
    /// `basic.ack`: done with it.
    case acknowledge
    /// `basic.reject` with `requeue`: deliver it again, flagged redelivered.
    case requeue
}
