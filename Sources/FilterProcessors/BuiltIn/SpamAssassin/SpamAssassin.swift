import FilterCore

/// Asks SpamAssassin's spamd for a score (`SYMBOLS`, or `REPORT` with `report: true`).
///
/// Every scanned message gets the score added to the verdict, the rules that hit as tags, and
/// header edits `X-Spam-Score` and `X-Spam-Status` (`Yes, score=15.3 required=5.0
/// tests=GTUBE,...`), plus `X-Spam-Report` with `report: true`. At or above the threshold
/// (spamd's own, or the `threshold` option) the processor decides `action` (default `spam`);
/// with `action: continue` it tags `spam` and lets the pipeline go on. A message larger than
/// `max_size` is not sent, as spamc does: the processor goes on with the tag
/// `<name>:skipped-too-large`.
public struct SpamAssassin: ConfigurableProcessor {
    public static let type = "spamassassin"
    public static let optionKeys: Set<String> = ["address", "threshold", "action", "max_size", "report", "user", "connect_timeout"]

    /// The options of a `spamassassin` entry.
    public struct Options: Decodable, Sendable {
        /// `host:port` or `/path` of spamd's socket; default `127.0.0.1:783`.
        public var address: String?
        /// The score at which mail is spam, overriding spamd's `required_score`.
        public var threshold: Double?
        /// The action for spam, or `continue`; default `spam`.
        public var action: String?
        /// Larger messages (bytes) are not scanned; default 512000, spamc's 500 KB.
        public var maxSize: Int?
        /// Whether to add an `X-Spam-Report` header; default false.
        public var report: Bool?
        /// Whose spamd preferences apply (spamd's `User:` header); default none.
        public var user: String?
        /// Seconds to wait for a connection; default 5.
        public var connectTimeout: Double?

        enum CodingKeys: String, CodingKey {
            case address, threshold, action, report, user
            case maxSize = "max_size", connectTimeout = "connect_timeout"
        }

        /// Creates options.
        public init(
            address: String? = nil, threshold: Double? = nil, action: String? = nil, maxSize: Int? = nil,
            report: Bool? = nil, user: String? = nil, connectTimeout: Double? = nil
        ) {
            self.address = address
            self.threshold = threshold
            self.action = action
            self.maxSize = maxSize
            self.report = report
            self.user = user
            self.connectTimeout = connectTimeout
        }
    }

    /// spamc's default size limit, in bytes.
    public static let defaultMaxSize = 512_000

    public let name: String
    /// The client it asks.
    public let client: SpamdClient
    private let threshold: Double?
    private let spamPolicy: ProcessorErrorPolicy
    private let maxSize: Int
    private let report: Bool
    private let user: String?

    public init(name: String = type, options: Options) throws(ProcessorConfigurationError) {
        self.name = name
        let address = try DaemonAddress(options.address ?? "127.0.0.1:783", key: "\(name).address")
        let limits = try DaemonLimits.configured(connectTimeout: options.connectTimeout, key: "\(name).connect_timeout")
        client = SpamdClient(address: address, limits: limits)
        threshold = options.threshold
        spamPolicy = try PipelineConfiguration.errorPolicy(options.action ?? "spam", key: "\(name).action")
        maxSize = options.maxSize ?? Self.defaultMaxSize
        guard maxSize > 0 else { throw ProcessorConfigurationError("\(name).max_size: must be a positive number of bytes") }
        report = options.report ?? false
        user = options.user
        if let user, user.isEmpty || user.contains(where: { $0.isNewline || $0.isWhitespace }) {
            throw ProcessorConfigurationError("\(name).user: \"\(user)\" must be one word")
        }
    }

    public func process(_ request: ProcessorRequest, verdict: Verdict) async throws -> ProcessorOutcome {
        var verdict = verdict
        guard request.rawMessage.count <= maxSize else {
            verdict.addTag("\(name):skipped-too-large")
            return .continue(verdict)
        }
        let result = try await client.check(request.rawMessage, command: report ? .report : .symbols, user: user)
        let required = threshold ?? result.threshold
        let isSpam = threshold.map { result.score >= $0 } ?? result.isSpam
        let score = result.score.scoreText
        verdict.addScore(result.score)
        result.symbols.forEach { verdict.addTag($0) }
        verdict.addHeaders.append(.init(name: "X-Spam-Score", value: score))
        verdict.addHeaders.append(.init(
            name: "X-Spam-Status",
            value: "\(isSpam ? "Yes" : "No"), score=\(score) required=\(required.scoreText) tests=\(result.symbols.joined(separator: ","))"))
        if report, !result.reportLines.isEmpty {
            verdict.addHeaders.append(.init(name: "X-Spam-Report", value: result.reportLines.map { "* \($0)" }.joined(separator: " ")))
        }
        guard isSpam else { return .continue(verdict) }
        switch spamPolicy {
        case .continue:
            verdict.addTag("spam")
            return .continue(verdict)
        case .decide(let action):
            return .decide(Decision(action, reason: "SpamAssassin score \(score) >= \(required.scoreText)"), verdict: verdict)
        }
    }
}
