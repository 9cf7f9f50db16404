import FilterCore

/// A step of a client's pipeline: it looks at one request (a message for one recipient) and the
/// verdict so far, and either lets the next step look, possibly adding to the verdict, or
/// decides.
///
/// A processor is a value built once from its options and then called concurrently for many
/// requests, so it keeps no per-request state. It should honour task cancellation: the
/// pipeline cancels it at its timeout and moves on without waiting.
public protocol Processor: Sendable {
    /// A short name for traces and logs; unique within a pipeline.
    var name: String { get }
    /// Looks at `request`.
    /// - Parameter verdict: what the processors before this one added.
    /// - Returns: ``ProcessorOutcome/continue(_:)`` with the verdict to hand on, or a decision.
    /// - Throws: any error; the pipeline then applies the step's ``ProcessorErrorPolicy``.
    func process(_ request: ProcessorRequest, verdict: Verdict) async throws -> ProcessorOutcome
}

/// What a processor sees: the request's metadata, the envelope for its one recipient, and the
/// message.
public struct ProcessorRequest: Sendable {
    /// The request as the server sent it (id, queue id, deadline, client, size, truncation).
    public let metadata: FilterRequestMetadata
    /// The envelope, holding only this request's recipient.
    public let envelope: Envelope
    /// The recipient this request is about.
    public let recipient: EnvelopeRecipient
    /// The raw message, cut at the server's limit when `metadata.truncated`.
    public let rawMessage: [UInt8]
    /// The parsed, read-only view of the message (docs/mime.md): decoded headers, addresses,
    /// the part tree, text and HTML bodies, attachments. Parts are parsed on first use.
    public let message: MIMEMessage

    /// The request id: the idempotency key for anything a processor does outside.
    public var id: String { metadata.id }

    /// Creates a request from its wire metadata and the message bytes.
    public init(metadata: FilterRequestMetadata, rawMessage: [UInt8]) {
        self.metadata = metadata
        self.rawMessage = rawMessage
        self.message = MIMEMessage(bytes: rawMessage)
        let recipient = EnvelopeRecipient(
            address: metadata.envelope.recipient,
            notify: metadata.envelope.parameters.notify.flatMap { DSNNotify(keywords: $0) },
            originalRecipient: metadata.envelope.orcpt)
        let parameters = MailParameters(
            size: metadata.size,
            body: metadata.envelope.parameters.body.map(BodyType.init(rawValue:)),
            smtpUTF8: metadata.envelope.parameters.smtputf8,
            ret: metadata.envelope.parameters.ret.map(DSNReturn.init(rawValue:)),
            envelopeID: metadata.envelope.parameters.envid.map(XText.encode))
        let client = metadata.client
        self.recipient = recipient
        self.envelope = Envelope(
            mailFrom: metadata.envelope.mailFrom, parameters: parameters, recipients: [recipient],
            client: ClientInfo(name: client.name, address: client.address, proto: client.protocol, helo: client.helo))
    }
}

/// What the processors so far have found, short of a decision: it travels down the pipeline and
/// ends up in the reply.
public struct Verdict: Sendable, Hashable {
    /// The summed score (spam-style: higher is worse); `nil` until a processor scores.
    public var score: Double?
    /// Free-form tags, in the order they were added.
    public var tags: [String]
    /// Header fields for the delivered copy.
    public var addHeaders: [FilterReply.HeaderField]
    /// A tag for the subject, for `spam`.
    public var subjectTag: String?

    /// An empty verdict.
    public init(score: Double? = nil, tags: [String] = [], addHeaders: [FilterReply.HeaderField] = [], subjectTag: String? = nil) {
        self.score = score
        self.tags = tags
        self.addHeaders = addHeaders
        self.subjectTag = subjectTag
    }

    /// Adds `points` to the score.
    public mutating func addScore(_ points: Double) {
        score = (score ?? 0) + points
    }

    /// Adds `tag` unless it is there already.
    public mutating func addTag(_ tag: String) {
        if !tags.contains(tag) { tags.append(tag) }
    }
}

/// A processor's decision: the action and what goes with it.
public struct Decision: Sendable, Hashable {
    /// What to do with the message for this recipient.
    public var action: FilterAction
    /// A short reason for logs, the verdict header and, where policy allows, DSNs.
    public var reason: String?
    /// For `forward`: where to.
    public var forward: [String]?
    /// For `pending`: seconds until the server asks again.
    public var retryAfter: Int?

    /// Creates a decision.
    public init(_ action: FilterAction, reason: String? = nil, forward: [String]? = nil, retryAfter: Int? = nil) {
        self.action = action
        self.reason = reason
        self.forward = forward
        self.retryAfter = retryAfter
    }
}

/// What a processor returns: the verdict to carry on with, and a decision when it made one.
public struct ProcessorOutcome: Sendable, Hashable {
    /// The verdict after this processor.
    public var verdict: Verdict
    /// The decision, when this processor ends the pipeline.
    public var decision: Decision?

    /// Lets the next processor look, handing on `verdict`.
    public static func `continue`(_ verdict: Verdict) -> ProcessorOutcome {
        ProcessorOutcome(verdict: verdict, decision: nil)
    }

    /// Ends the pipeline with `decision`; `verdict` goes into the reply with it.
    public static func decide(_ decision: Decision, verdict: Verdict) -> ProcessorOutcome {
        ProcessorOutcome(verdict: verdict, decision: decision)
    }
}
