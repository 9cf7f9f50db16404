import FilterCore

/// Decides `forward` to configured addresses, for every message or only for matching senders.
///
/// `mode: redirect` (the default) means the recipient's copy goes to the addresses instead;
/// `mode: copy` means as well. Wire protocol v1's reply has no field for this, so the mode is
/// recorded as the tag `forward-redirect` or `forward-copy` and in the reason, where the
/// server's forward policy reads it.
public struct Forward: ConfigurableProcessor {
    public static let type = "forward"
    public static let optionKeys: Set<String> = ["to", "mode", "senders"]

    /// The options of a `forward` entry.
    public struct Options: Decodable, Sendable {
        /// Where to forward; at least one address.
        public var to: [String]
        /// `redirect` (default) or `copy`.
        public var mode: String?
        /// Only mail from these senders (entries as for `sender-list`); all mail when absent.
        public var senders: [String]?

        /// Creates options.
        public init(to: [String], mode: String? = nil, senders: [String]? = nil) {
            self.to = to
            self.mode = mode
            self.senders = senders
        }
    }

    /// Whether the recipient keeps its copy.
    enum Mode: String {
        case redirect, copy
    }

    public let name: String
    private let addresses: [String]
    private let mode: Mode
    private let senders: SenderPatterns?

    public init(name: String = type, options: Options) throws(ProcessorConfigurationError) {
        guard !options.to.isEmpty else { throw ProcessorConfigurationError("\(name).to: give at least one address") }
        if let bad = options.to.first(where: { !MailboxSyntax.isValid($0) }) {
            throw ProcessorConfigurationError("\(name).to: \"\(bad)\" is not a valid address (local-part@domain)")
        }
        guard let mode = Mode(rawValue: (options.mode ?? "redirect").lowercased()) else {
            throw ProcessorConfigurationError("\(name).mode: \"\(options.mode ?? "")\" is not redirect or copy")
        }
        if let senders = options.senders, senders.isEmpty {
            throw ProcessorConfigurationError("\(name).senders: give at least one sender, or leave the option out for all mail")
        }
        self.name = name
        addresses = options.to
        self.mode = mode
        senders = try options.senders.map { list throws(ProcessorConfigurationError) in try SenderPatterns(list, key: "\(name).senders") }
    }

    public func process(_ request: ProcessorRequest, verdict: Verdict) async throws -> ProcessorOutcome {
        if let senders, !senders.matches(request.envelope.mailFrom) {
            return .continue(verdict)
        }
        var verdict = verdict
        verdict.addTag("forward-\(mode.rawValue)")
        let decision = Decision(.forward, reason: "forward (\(mode.rawValue)) by \(name)", forward: addresses)
        return .decide(decision, verdict: verdict)
    }
}
