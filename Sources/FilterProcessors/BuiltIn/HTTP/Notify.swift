import FilterCore
import Foundation

/// Posts a short templated message about matching mail to a chat-style webhook (Slack,
/// Mattermost, Rocket.Chat incoming webhooks): `{"text": "..."}`, the field name configurable.
///
/// A decision ends the pipeline, so no processor after it runs: `notify` sees the verdict (score,
/// tags) and the sender, not a later action. To be told about mail that a check marks, let the
/// check tag it (for example `spam`) and put `notify` after it with `when: {tags: [spam]}`; with
/// `action:` the notify step then decides that action itself, and `{{action}}` names it.
///
/// Posting goes through the same sender as ``Webhook`` (timeouts, retries, `Idempotency-Key`,
/// optional signature).
public struct Notify: ConfigurableProcessor {
    public static let type = "notify"
    public static let optionKeys: Set<String> = WebhookDeliveryOptions.keys.union(["url", "template", "field", "when", "action", "max_length", "escape"])

    /// The options of a `notify` entry.
    public struct Options: Decodable, Sendable {
        /// The chat webhook, `http` or `https`.
        public var url: String
        /// The message, with `{{variables}}`; default `Mail for {{recipient}} from {{sender}}: {{subject}}`.
        public var template: String?
        /// The JSON field that carries the message; default `text`.
        public var field: String?
        /// Which mail is notified about; all mail when absent.
        public var when: Condition?
        /// `continue` (default), or an action this step decides after notifying.
        public var action: String?
        /// At most this many characters are sent; default 1000.
        public var maxLength: Int?
        /// How values from the mail are escaped: `slack` (default: `&`, `<`, `>` as entities, so
        /// a subject cannot write `<!channel>` or a link) or `none`.
        public var escape: String?
        /// Timeouts, retries and the signing key.
        public var delivery: WebhookDeliveryOptions

        enum CodingKeys: String, CodingKey {
            case url, template, field, when, action, escape, maxLength = "max_length"
        }

        /// Creates options.
        public init(
            url: String, template: String? = nil, field: String? = nil, when: Condition? = nil, action: String? = nil,
            maxLength: Int? = nil, escape: String? = nil, delivery: WebhookDeliveryOptions = .init()
        ) {
            self.escape = escape
            self.url = url
            self.template = template
            self.field = field
            self.when = when
            self.action = action
            self.maxLength = maxLength
            self.delivery = delivery
        }

        public init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            url = try container.decode(String.self, forKey: .url)
            template = try container.decodeIfPresent(String.self, forKey: .template)
            field = try container.decodeIfPresent(String.self, forKey: .field)
            when = try container.decodeIfPresent(Condition.self, forKey: .when)
            action = try container.decodeIfPresent(String.self, forKey: .action)
            maxLength = try container.decodeIfPresent(Int.self, forKey: .maxLength)
            escape = try container.decodeIfPresent(String.self, forKey: .escape)
            delivery = try WebhookDeliveryOptions(from: decoder)
        }
    }

    /// Which mail `notify` is about: every condition given must hold.
    public struct Condition: Decodable, Sendable {
        /// The verdict carries at least one of these tags.
        public var tags: [String]?
        /// The verdict's score is at least this.
        public var scoreAtLeast: Double?
        /// The sender matches one of these entries (as for `sender-list`).
        public var senders: [String]?

        enum CodingKeys: String, CodingKey, CaseIterable {
            case tags, scoreAtLeast = "score_at_least", senders
        }

        /// Creates a condition.
        public init(tags: [String]? = nil, scoreAtLeast: Double? = nil, senders: [String]? = nil) {
            self.tags = tags
            self.scoreAtLeast = scoreAtLeast
            self.senders = senders
        }

        public init(from decoder: any Decoder) throws {
            let known = Set(CodingKeys.allCases.map(\.rawValue))
            let unknown = try decoder.container(keyedBy: AnyKey.self).allKeys.map(\.stringValue).filter { !known.contains($0) }
            guard unknown.isEmpty else {
                let problem = "unknown condition \(unknown.sorted().joined(separator: ", ")); known: \(known.sorted().joined(separator: ", "))"
                throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: problem))
            }
            let container = try decoder.container(keyedBy: CodingKeys.self)
            tags = try container.decodeIfPresent([String].self, forKey: .tags)
            scoreAtLeast = try container.decodeIfPresent(Double.self, forKey: .scoreAtLeast)
            senders = try container.decodeIfPresent([String].self, forKey: .senders)
        }
    }

    public let name: String
    private let url: URL
    private let template: MessageTemplate
    private let field: String
    private let tags: Set<String>?
    private let scoreAtLeast: Double?
    private let senders: SenderPatterns?
    private let policy: ProcessorErrorPolicy
    private let maxLength: Int
    private let escapesForSlack: Bool
    private let sender: WebhookSender

    public init(name: String = type, options: Options) throws(ProcessorConfigurationError) {
        self.name = name
        url = try Webhook.receiverURL(options.url, key: "\(name).url")
        template = try MessageTemplate(options.template ?? "Mail for {{recipient}} from {{sender}}: {{subject}}", key: "\(name).template")
        field = options.field ?? "text"
        guard !field.isEmpty else { throw ProcessorConfigurationError("\(name).field: must not be empty") }
        if let tags = options.when?.tags, tags.isEmpty {
            throw ProcessorConfigurationError("\(name).when.tags: give at least one tag, or leave the condition out")
        }
        tags = options.when?.tags.map(Set.init)
        scoreAtLeast = options.when?.scoreAtLeast
        if let senders = options.when?.senders, senders.isEmpty {
            throw ProcessorConfigurationError("\(name).when.senders: give at least one sender, or leave the condition out")
        }
        senders = try options.when?.senders.map { list throws(ProcessorConfigurationError) in try SenderPatterns(list, key: "\(name).when.senders") }
        policy = try PipelineConfiguration.errorPolicy(options.action ?? "continue", key: "\(name).action")
        maxLength = options.maxLength ?? 1000
        guard maxLength > 0 else { throw ProcessorConfigurationError("\(name).max_length: must be a positive number of characters") }
        switch options.escape ?? "slack" {
        case "slack": escapesForSlack = true
        case "none": escapesForSlack = false
        case let other: throw ProcessorConfigurationError("\(name).escape: \"\(other)\" is not slack or none")
        }
        sender = try WebhookSender(options: options.delivery, key: name)
    }

    /// `text` with Slack's control characters written as entities (api.slack.com, "Escaping
    /// text"): `&`, `<` and `>`, so mail cannot mention `<!channel>` or forge a link.
    static func slackEscaped(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;")
    }

    public func process(_ request: ProcessorRequest, verdict: Verdict) async throws -> ProcessorOutcome {
        guard matches(request, verdict: verdict) else { return .continue(verdict) }
        var values = MessageTemplate.values(request, verdict: verdict, action: policy.name)
        if escapesForSlack { values = values.mapValues(Self.slackEscaped) }
        var text = template.render(values)
        if text.count > maxLength {
            text = String(text.prefix(maxLength - 1)) + "…"
        }
        let body = try JSONEncoder().encode([field: text])
        _ = try await sender.post(Array(body), contentType: "application/json", to: url, idempotencyKey: request.id)
        switch policy {
        case .continue:
            return .continue(verdict)
        case .decide(let action):
            return .decide(Decision(action, reason: "notified and decided by \(name)"), verdict: verdict)
        }
    }

    /// Whether the conditions of `when` hold.
    private func matches(_ request: ProcessorRequest, verdict: Verdict) -> Bool {
        if let tags, !verdict.tags.contains(where: tags.contains) { return false }
        if let scoreAtLeast, (verdict.score ?? 0) < scoreAtLeast { return false }
        if let senders, !senders.matches(request.envelope.mailFrom) { return false }
        return true
    }
}

extension ProcessorErrorPolicy {
    /// `continue`, or the action's name.
    var name: String {
        switch self {
        case .continue: "continue"
        case .decide(let action): action.rawValue
        }
    }
}

/// A short text with `{{variable}}` placeholders, checked when loaded.
///
/// Variables: `id`, `queue_id`, `sender` (`<>` for the null sender), `recipient`, `subject`,
/// `from` (the raw header fields, unfolded), `client_address`, `client_name`, `helo`, `size`
/// (octets), `score` (empty when unscored), `tags` (comma-separated), `action`.
struct MessageTemplate: Sendable {
    /// The variables a template may name.
    static let variables: Set<String> = [
        "id", "queue_id", "sender", "recipient", "subject", "from", "client_address", "client_name", "helo", "size", "score", "tags",
        "action",
    ]

    private enum Part {
        case text(String)
        case variable(String)
    }

    private let parts: [Part]

    /// Parses `template`.
    /// - Throws: ``ProcessorConfigurationError`` naming `key` for an unknown variable or an unclosed `{{`.
    init(_ template: String, key: String) throws(ProcessorConfigurationError) {
        var parts: [Part] = []
        var rest = template[...]
        while let open = rest.range(of: "{{") {
            parts.append(.text(String(rest[..<open.lowerBound])))
            guard let close = rest[open.upperBound...].range(of: "}}") else {
                throw ProcessorConfigurationError("\(key): \"{{\" is not closed by \"}}\"")
            }
            let name = rest[open.upperBound..<close.lowerBound].trimmingCharacters(in: .whitespaces)
            guard Self.variables.contains(name) else {
                throw ProcessorConfigurationError("\(key): unknown variable {{\(name)}}; known: \(Self.variables.sorted().joined(separator: ", "))")
            }
            parts.append(.variable(name))
            rest = rest[close.upperBound...]
        }
        parts.append(.text(String(rest)))
        self.parts = parts
    }

    /// The text with each variable replaced by its value.
    func render(_ values: [String: String]) -> String {
        parts.map { part in
            switch part {
            case .text(let text): text
            case .variable(let name): values[name] ?? ""
            }
        }.joined()
    }

    /// The values of the variables for `request`.
    static func values(_ request: ProcessorRequest, verdict: Verdict, action: String) -> [String: String] {
        let headers = request.message.headers
        let metadata = request.metadata
        return [
            "id": metadata.id, "queue_id": metadata.queueId,
            "sender": metadata.envelope.mailFrom.isEmpty ? "<>" : metadata.envelope.mailFrom,
            "recipient": metadata.envelope.recipient, "subject": headers["Subject"] ?? "", "from": headers["From"] ?? "",
            "client_address": metadata.client.address ?? "", "client_name": metadata.client.name ?? "", "helo": metadata.client.helo ?? "",
            "size": String(metadata.size), "score": verdict.score.map(formatScore) ?? "", "tags": verdict.tags.joined(separator: ", "),
            "action": action,
        ]
    }

    /// A score as people write it: `7`, `5.25`.
    private static func formatScore(_ score: Double) -> String {
        score == score.rounded() && abs(score) < 1e15 ? String(Int(score)) : String(format: "%.2f", score)
    }
}
