import FilterCore
import Foundation

/// Asks rspamd (`POST /checkv2`, with the envelope and the client as headers) and maps its
/// action to ours: by default `reject` → `deny`, `add header` and `rewrite subject` → `spam`,
/// `greylist` and `soft reject` → `pending` after `retry_after` seconds, `no action` →
/// continue. The `actions` option changes any entry; an action rspamd names that the map lacks
/// (a custom one) continues. The score is added to the verdict and the symbols become tags.
public struct Rspamd: ConfigurableProcessor {
    public static let type = "rspamd"
    public static let optionKeys: Set<String> = ["url", "password", "user", "actions", "retry_after", "connect_timeout"]

    /// The options of an `rspamd` entry.
    public struct Options: Decodable, Sendable {
        /// The normal worker's base URL; default `http://127.0.0.1:11333`.
        public var url: String?
        /// Sent as `Password`, for a worker that wants one; default none.
        public var password: String?
        /// Sent as `User` (rspamd then treats the mail as sent by an authenticated user).
        public var user: String?
        /// rspamd action → our action or `continue`, over the defaults.
        public var actions: [String: String]?
        /// Seconds before the server asks again after `greylist` or `soft reject`; default 300.
        public var retryAfter: Int?
        /// Seconds to connect, and the longest rspamd may stay silent; default 30.
        public var connectTimeout: Double?

        enum CodingKeys: String, CodingKey {
            case url, password, user, actions
            case retryAfter = "retry_after", connectTimeout = "connect_timeout"
        }

        /// Creates options.
        public init(
            url: String? = nil, password: String? = nil, user: String? = nil, actions: [String: String]? = nil,
            retryAfter: Int? = nil, connectTimeout: Double? = nil
        ) {
            self.url = url
            self.password = password
            self.user = user
            self.actions = actions
            self.retryAfter = retryAfter
            self.connectTimeout = connectTimeout
        }
    }

    /// How rspamd's actions map to ours unless `actions` says otherwise.
    public static let defaultActions: [RspamdAction: ProcessorErrorPolicy] = [
        .reject: .decide(.deny), .addHeader: .decide(.spam), .rewriteSubject: .decide(.spam),
        .greylist: .decide(.pending), .softReject: .decide(.pending), .noAction: .continue,
    ]

    public let name: String
    /// The client it asks.
    public let client: RspamdClient
    private let actions: [RspamdAction: ProcessorErrorPolicy]
    private let retryAfter: Int
    private let user: String?

    public init(name: String = type, options: Options) throws(ProcessorConfigurationError) {
        self.name = name
        let text = options.url ?? "http://127.0.0.1:11333"
        guard let url = URL(string: text), url.scheme == "http" || url.scheme == "https", url.host != nil else {
            throw ProcessorConfigurationError("\(name).url: \"\(text)\" is not an http:// or https:// URL")
        }
        let timeout = options.connectTimeout ?? 30
        guard timeout > 0 else { throw ProcessorConfigurationError("\(name).connect_timeout: must be a positive number of seconds") }
        client = RspamdClient(url: url, password: options.password, timeout: timeout)
        var actions = Self.defaultActions
        for (rspamdAction, ours) in options.actions ?? [:] {
            actions[RspamdAction(rawValue: rspamdAction.lowercased())] = try PipelineConfiguration.errorPolicy(ours, key: "\(name).actions.\(rspamdAction)")
        }
        self.actions = actions
        retryAfter = options.retryAfter ?? 300
        guard retryAfter > 0 else { throw ProcessorConfigurationError("\(name).retry_after: must be a positive number of seconds") }
        user = options.user
    }

    public func process(_ request: ProcessorRequest, verdict: Verdict) async throws -> ProcessorOutcome {
        let client = request.envelope.client
        let envelope = RspamdEnvelope(
            from: request.envelope.mailFrom, recipients: [request.recipient.address],
            ip: Self.known(client.address).map { $0.hasPrefix("IPV6:") ? String($0.dropFirst(5)) : $0 },
            helo: Self.known(client.helo), hostname: Self.known(client.name),
            queueID: request.metadata.queueId, user: user)
        let result = try await self.client.check(request.rawMessage, envelope: envelope)
        var verdict = verdict
        verdict.addScore(result.score)
        result.symbols.forEach { verdict.addTag($0) }
        guard case .decide(let action) = actions[result.action] ?? .continue else {
            return .continue(verdict)
        }
        let reason = "rspamd: \(result.action) (score \(result.score.scoreText) / \(result.requiredScore.scoreText))"
        return .decide(Decision(action, reason: reason, retryAfter: action == .pending ? retryAfter : nil), verdict: verdict)
    }

    /// An XFORWARD value, unless it says that Postfix does not know (`[UNAVAILABLE]`, `unknown`).
    private static func known(_ value: String?) -> String? {
        guard let value, !value.isEmpty, value != "[UNAVAILABLE]", value.lowercased() != "unknown" else { return nil }
        return value
    }
}
