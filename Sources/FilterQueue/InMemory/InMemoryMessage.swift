/// One message inside the in-memory broker: the AMQP properties wire protocol v1 uses, and the
/// body.
struct InMemoryMessage: Sendable {
    /// `correlation_id`.
    var correlationID: String?
    /// `reply_to`.
    var replyTo: String?
    /// `message_id`.
    var messageID: String?
    /// The header `x-mailfilter-request`.
    var metadata: String?
    /// `user_id`, set by the broker from the publishing session's user.
    var userID: String?
    /// `type`.
    var type: String?
    /// The body.
    var body: [UInt8]
    /// When the message expires in its queue (from `expiration`); `nil` for never.
    var expiresAt: ContinuousClock.Instant?
    /// Whether the message was delivered before and came back unacknowledged.
    var redelivered = false

    /// Whether the message has expired at `now`. RabbitMQ drops an expired message instead of
    /// delivering it, and so does the in-memory broker.
    func hasExpired(at now: ContinuousClock.Instant) -> Bool {
        expiresAt.map { $0 <= now } ?? false
    }
}

/// The ready messages of one queue, first in first out, with O(1) removal at the front and
/// room to put unacknowledged messages back at the front.
struct InMemoryMessageBuffer: Sendable {
    private var storage: [InMemoryMessage] = []
    private var head = 0
    /// The sum of the body sizes, as RabbitMQ's `max-length-bytes` counts them.
    private(set) var bodyBytes = 0

    /// Whether no message is ready.
    var isEmpty: Bool { head == storage.count }

    /// The first ready message.
    var first: InMemoryMessage? { isEmpty ? nil : storage[head] }

    /// Appends a message at the back.
    mutating func append(_ message: InMemoryMessage) {
        storage.append(message)
        bodyBytes += message.body.count
    }

    /// Removes and returns the first message.
    mutating func removeFirst() -> InMemoryMessage? {
        guard !isEmpty else { return nil }
        let message = storage[head]
        head += 1
        bodyBytes -= message.body.count
        if head == storage.count {
            storage.removeAll(keepingCapacity: true)
            head = 0
        } else if head >= 1024 && head * 2 >= storage.count {
            storage.removeFirst(head)
            head = 0
        }
        return message
    }

    /// Puts messages back at the front, in the given order (RabbitMQ requeues an
    /// unacknowledged message near its original position, ahead of newer ones).
    mutating func prepend(_ messages: [InMemoryMessage]) {
        guard !messages.isEmpty else { return }
        storage.removeFirst(head)
        head = 0
        storage.insert(contentsOf: messages, at: 0)
        bodyBytes += messages.reduce(0) { $0 + $1.body.count }
    }
}
