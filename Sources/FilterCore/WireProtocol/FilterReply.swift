/// The body of one reply of wire protocol v1: the client's decision for one request
/// (docs/protocol.md, "Reply").
///
/// Unknown fields are ignored when decoding, so clients may send more than this.
public struct FilterReply: Sendable, Hashable, Codable {
    /// The protocol version; always 1 here.
    public var version: Int
    /// The id of the request this answers; must equal the AMQP `correlation_id`.
    public var id: String
    /// What to do with the message for this recipient.
    public var action: FilterAction
    /// A short reason, for logs, the verdict header and (where policy allows) DSNs.
    public var reason: String?
    /// For `forward`: the addresses to deliver to.
    public var forward: [String]?
    /// Header fields to add to the delivered copy.
    public var addHeaders: [HeaderField]?
    /// A tag to put in front of the subject (for `spam`).
    public var subjectTag: String?
    /// A score (for `spam`).
    public var score: Double?
    /// Free-form tags, for logs and events.
    public var tags: [String]?
    /// For `pending`: seconds until the server asks again.
    public var retryAfter: Int?
    /// What each processor of the client's pipeline did.
    public var processors: [ProcessorTrace]?

    /// Creates a reply.
    public init(
        id: String, action: FilterAction, reason: String? = nil, forward: [String]? = nil,
        addHeaders: [HeaderField]? = nil, subjectTag: String? = nil, score: Double? = nil,
        tags: [String]? = nil, retryAfter: Int? = nil, processors: [ProcessorTrace]? = nil
    ) {
        self.version = 1
        self.id = id
        self.action = action
        self.reason = reason
        self.forward = forward
        self.addHeaders = addHeaders
        self.subjectTag = subjectTag
        self.score = score
        self.tags = tags
        self.retryAfter = retryAfter
        self.processors = processors
    }

    /// A header field to add.
    public struct HeaderField: Sendable, Hashable, Codable {
        /// The field name, for example `X-Spam-Report`.
        public var name: String
        /// The unfolded field value.
        public var value: String

        /// Creates a header field.
        public init(name: String, value: String) {
            self.name = name
            self.value = value
        }
    }

    /// One processor's part in a decision.
    public struct ProcessorTrace: Sendable, Hashable, Codable {
        /// The processor's name.
        public var name: String
        /// What it did: `continue`, an action, or `error`.
        public var outcome: String
        /// How long it took, in milliseconds.
        public var ms: Int

        /// Creates a trace entry.
        public init(name: String, outcome: String, ms: Int) {
            self.name = name
            self.outcome = outcome
            self.ms = ms
        }
    }
}
