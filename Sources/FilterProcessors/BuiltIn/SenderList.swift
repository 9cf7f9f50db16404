import FilterCore

/// Allows or blocks mail by its envelope sender. The allow list wins: a sender on both lists is
/// allowed.
///
/// Entries (matching ignores case):
/// - `alice@example.net`: that address;
/// - `@example.net` or `example.net`: the domain;
/// - `*.example.net`: every subdomain of the domain, not the domain itself;
/// - `.example.net`: the domain and every subdomain;
/// - `/regex/`: a regular expression matched against the whole address;
/// - `<>`: the null sender (bounces).
///
/// An allowed sender ends the pipeline with `allow_action` (default `pass`: later processors
/// such as spam checks are skipped) or, with `allow_action: continue`, lets the pipeline go on
/// with the tag `sender-allowed`. A blocked sender gets `block_action` (default `deny`).
public struct SenderList: ConfigurableProcessor {
    public static let type = "sender-list"
    public static let optionKeys: Set<String> = ["allow", "block", "allow_action", "block_action"]

    /// The options of a `sender-list` entry.
    public struct Options: Decodable, Sendable {
        /// Entries whose senders are allowed.
        public var allow: [String]?
        /// Entries whose senders are blocked.
        public var block: [String]?
        /// `continue`, or the action for an allowed sender; default `pass`.
        public var allowAction: String?
        /// The action for a blocked sender; default `deny`.
        public var blockAction: String?

        enum CodingKeys: String, CodingKey {
            case allow, block
            case allowAction = "allow_action", blockAction = "block_action"
        }

        /// Creates options.
        public init(allow: [String]? = nil, block: [String]? = nil, allowAction: String? = nil, blockAction: String? = nil) {
            self.allow = allow
            self.block = block
            self.allowAction = allowAction
            self.blockAction = blockAction
        }
    }

    public let name: String
    private let allow: SenderPatterns
    private let block: SenderPatterns
    private let allowPolicy: ProcessorErrorPolicy
    private let blockAction: FilterAction

    public init(name: String = type, options: Options) throws(ProcessorConfigurationError) {
        guard options.allow?.isEmpty == false || options.block?.isEmpty == false else {
            throw ProcessorConfigurationError("\(name): give `allow`, `block` or both, each a list of senders")
        }
        self.name = name
        allow = try SenderPatterns(options.allow ?? [], key: "\(name).allow")
        block = try SenderPatterns(options.block ?? [], key: "\(name).block")
        allowPolicy = try PipelineConfiguration.errorPolicy(options.allowAction ?? "pass", key: "\(name).allow_action")
        blockAction = try FilterAction.configured(options.blockAction ?? "deny", key: "\(name).block_action")
    }

    public func process(_ request: ProcessorRequest, verdict: Verdict) async throws -> ProcessorOutcome {
        let sender = request.envelope.mailFrom
        if allow.matches(sender) {
            switch allowPolicy {
            case .continue:
                var verdict = verdict
                verdict.addTag("sender-allowed")
                return .continue(verdict)
            case .decide(let action):
                return .decide(Decision(action, reason: "sender allowed by \(name)"), verdict: verdict)
            }
        }
        if block.matches(sender) {
            return .decide(Decision(blockAction, reason: "sender blocked by \(name)"), verdict: verdict)
        }
        return .continue(verdict)
    }
}

/// A compiled list of sender entries (see ``SenderList``).
struct SenderPatterns: Sendable {
    private var addresses: Set<String> = []
    private var domains: Set<String> = []
    private var subdomainsOf: [String] = []
    private var expressions: [SendableRegex] = []
    private var nullSender = false

    init(_ entries: [String], key: String) throws(ProcessorConfigurationError) {
        for entry in entries {
            let lowered = entry.lowercased()
            if lowered == "<>" {
                nullSender = true
            } else if entry.count > 2, entry.hasPrefix("/"), entry.hasSuffix("/") {
                expressions.append(try SendableRegex(String(entry.dropFirst().dropLast()), key: key))
            } else if lowered.hasPrefix("*."), Self.isDomain(lowered.dropFirst(2)) {
                subdomainsOf.append(String(lowered.dropFirst()))
            } else if lowered.hasPrefix("."), Self.isDomain(lowered.dropFirst()) {
                domains.insert(String(lowered.dropFirst()))
                subdomainsOf.append(lowered)
            } else if lowered.hasPrefix("@"), Self.isDomain(lowered.dropFirst()) {
                domains.insert(String(lowered.dropFirst()))
            } else if Self.isDomain(lowered[...]) {
                domains.insert(lowered)
            } else if let at = lowered.lastIndex(of: "@"), at != lowered.startIndex, Self.isDomain(lowered[lowered.index(after: at)...]) {
                addresses.insert(lowered)
            } else {
                throw ProcessorConfigurationError(
                    "\(key): \"\(entry)\" is not an address, @domain, domain, *.domain, .domain, /regex/ or <>")
            }
        }
    }

    /// Whether `text` looks like a domain with at least two labels (letters, digits, `-`, or
    /// non-ASCII for internationalized names).
    private static func isDomain(_ text: Substring) -> Bool {
        let labels = text.split(separator: ".", omittingEmptySubsequences: false)
        return labels.count >= 2 && labels.allSatisfy { label in
            !label.isEmpty && label.unicodeScalars.allSatisfy { $0.properties.isAlphabetic || ("0"..."9").contains($0) || $0 == "-" }
        }
    }

    func matches(_ sender: String) -> Bool {
        if sender.isEmpty { return nullSender }
        let sender = sender.lowercased()
        if addresses.contains(sender) { return true }
        if let at = sender.lastIndex(of: "@") {
            let domain = String(sender[sender.index(after: at)...])
            if domains.contains(domain) || subdomainsOf.contains(where: { domain.hasSuffix($0) }) { return true }
        }
        return expressions.contains { $0.matchesWhole(sender) }
    }
}
