/// The bounds of one queue, set through a RabbitMQ policy (never queue arguments, so a later
/// `queue.declare` by a transport without arguments stays equivalent).
public struct QueueLimits: Sendable, Hashable {
    /// How long a message may wait in the queue (policy `message-ttl`), in milliseconds.
    public var messageTTLMilliseconds: Int
    /// The most message bytes the queue holds (policy `max-length-bytes`), in bytes.
    public var maxLengthBytes: Int
    /// What happens to a message that does not fit (policy `overflow`).
    public var overflow: Overflow

    /// What RabbitMQ does when a queue is full (policy key `overflow`). Open: RabbitMQ may add more.
    public struct Overflow: RawRepresentable, Sendable, Hashable {
        /// The policy value.
        public var rawValue: String
        /// Creates a value.
        public init(rawValue: String) { self.rawValue = rawValue }

        /// Refuse the new message: a publisher with confirms gets a nack (the server falls back).
        public static let rejectPublish = Overflow(rawValue: "reject-publish")
        /// Drop the oldest message to make room.
        public static let dropHead = Overflow(rawValue: "drop-head")
    }

    /// Creates limits.
    /// - Parameters:
    ///   - messageTTLMilliseconds: Policy `message-ttl`, in milliseconds.
    ///   - maxLengthBytes: Policy `max-length-bytes`, in bytes.
    ///   - overflow: Policy `overflow`.
    public init(messageTTLMilliseconds: Int, maxLengthBytes: Int, overflow: Overflow) {
        self.messageTTLMilliseconds = messageTTLMilliseconds
        self.maxLengthBytes = maxLengthBytes
        self.overflow = overflow
    }

    /// A user's request queue: requests wait at most 1 hour (each also expires at its own
    /// deadline, by default 60 s), the queue holds at most 64 MiB, and a request that does not
    /// fit is refused, so the server applies the fallback at once instead of waiting.
    public static let requestQueueDefault = QueueLimits(
        messageTTLMilliseconds: 3_600_000, maxLengthBytes: 64 << 20, overflow: .rejectPublish)

    /// A user's events queue: events are kept 7 days, at most 16 MiB, the oldest dropped first,
    /// so a user who never reads events neither fills the broker nor slows the server.
    public static let eventQueueDefault = QueueLimits(
        messageTTLMilliseconds: 7 * 86_400_000, maxLengthBytes: 16 << 20, overflow: .dropHead)

    /// A server's reply queue: replies wait at most 1 hour (a restarted server still takes
    /// replies to the requests it re-asks), at most 64 MiB; a reply that does not fit is
    /// refused, so the client learns it from its publisher confirm.
    public static let replyQueueDefault = QueueLimits(
        messageTTLMilliseconds: 3_600_000, maxLengthBytes: 64 << 20, overflow: .rejectPublish)
}

/// What `filterctl user add` sets for one owner.
public struct UserLimits: Sendable, Hashable {
    /// The owner's request queue (default ``QueueLimits/requestQueueDefault``).
    public var requestQueue: QueueLimits
    /// The owner's events queue (default ``QueueLimits/eventQueueDefault``).
    public var eventQueue: QueueLimits
    /// The most AMQP connections the owner's broker user may hold at once (RabbitMQ user limit
    /// `max-connections`; default 8: a client needs two, the rest is room for a restart overlap).
    public var maxConnections: Int
    /// The most channels the owner's broker user may hold over all connections (user limit
    /// `max-channels`; default 32).
    public var maxChannels: Int

    /// Creates limits, each defaulting as documented on its property.
    public init(
        requestQueue: QueueLimits = .requestQueueDefault,
        eventQueue: QueueLimits = .eventQueueDefault,
        maxConnections: Int = 8,
        maxChannels: Int = 32
    ) {
        self.requestQueue = requestQueue
        self.eventQueue = eventQueue
        self.maxConnections = maxConnections
        self.maxChannels = maxChannels
    }
}

/// A RabbitMQ permission triple for one virtual host: three regular expressions over resource
/// names (RabbitMQ "Access Control").
public struct BrokerPermissions: Sendable, Hashable, Codable {
    /// Declare and delete queues and exchanges whose names match.
    public var configure: String
    /// Publish to exchanges and bind to queues whose names match.
    public var write: String
    /// Consume from queues, and bind from exchanges, whose names match.
    public var read: String

    /// Creates a triple.
    public init(configure: String, write: String, read: String) {
        self.configure = configure
        self.write = write
        self.read = read
    }
}
