import FilterCore

/// Header and body conditions leading to an action or to additions to the verdict.
///
/// ```yaml
/// - type: rules
///   rules:
///     - name: executables
///       if: {attachment: ["*.exe", "*.scr", application/x-msdownload]}
///       then: {action: quarantine, reason: executable attachment}
///     - name: newsletter
///       if:
///         all:
///           - {header: List-Id, exists: true}
///           - {header: Subject, contains: newsletter}
///       then: {tag: newsletter, add_headers: [{name: X-Newsletter, value: "yes"}]}
///     - name: pills
///       if: {body: {matches: "v[i1]agra"}}
///       then: {score: 5}
/// ```
///
/// Rules are tried in order. A matching rule without `action` adds its tag, score and header
/// fields and the next rule is tried; a matching rule with `action` adds them too and decides.
public struct Rules: ConfigurableProcessor {
    public static let type = "rules"
    public static let optionKeys: Set<String> = ["rules"]

    /// The options of a `rules` entry.
    public struct Options: Decodable, Sendable {
        /// The rules, in order.
        public var rules: [RuleOptions]
    }

    /// One rule as written in the file.
    public struct RuleOptions: Decodable, Sendable {
        /// Its name, in reasons and tags.
        public var name: String
        /// The condition.
        public var condition: RuleCondition
        /// What happens when it holds.
        public var consequence: RuleConsequence

        enum CodingKeys: String, CodingKey { case name, condition = "if", consequence = "then" }

        public init(from decoder: any Decoder) throws {
            try RuleCondition.refuseUnknownKeys(in: decoder, known: ["name", "if", "then"])
            let container = try decoder.container(keyedBy: CodingKeys.self)
            name = try container.decode(String.self, forKey: .name)
            do {
                condition = try container.decode(RuleCondition.self, forKey: .condition)
                consequence = try container.decode(RuleConsequence.self, forKey: .consequence)
            } catch let error as ProcessorConfigurationError {
                throw ProcessorConfigurationError("rule \"\(name)\": \(error.description)")
            }
        }
    }

    public let name: String
    private let rules: [RuleOptions]

    public init(name: String = type, options: Options) throws(ProcessorConfigurationError) {
        guard !options.rules.isEmpty else { throw ProcessorConfigurationError("\(name).rules: give at least one rule") }
        var names: Set<String> = []
        for rule in options.rules where !names.insert(rule.name).inserted {
            throw ProcessorConfigurationError("\(name).rules: the rule name \"\(rule.name)\" is used twice")
        }
        self.name = name
        rules = options.rules
    }

    public func process(_ request: ProcessorRequest, verdict: Verdict) async throws -> ProcessorOutcome {
        var verdict = verdict
        let texts = RuleTexts(request.message)
        for rule in rules where rule.condition.holds(for: request, texts: texts) {
            let then = rule.consequence
            if let tag = then.tag { verdict.addTag(tag) }
            if let score = then.score { verdict.addScore(score) }
            verdict.addHeaders += then.addHeaders ?? []
            if let subjectTag = then.subjectTag { verdict.subjectTag = subjectTag }
            if let action = then.action {
                let decision = Decision(action, reason: then.reason ?? "rule \(rule.name)", forward: then.forward, retryAfter: then.retryAfter)
                return .decide(decision, verdict: verdict)
            }
        }
        return .continue(verdict)
    }
}

/// What a matching rule does.
public struct RuleConsequence: Decodable, Sendable {
    /// Decide this action.
    public var action: FilterAction?
    /// The reason given with the action.
    public var reason: String?
    /// A tag to add.
    public var tag: String?
    /// Points to add to the score.
    public var score: Double?
    /// Header fields for the delivered copy.
    public var addHeaders: [FilterReply.HeaderField]?
    /// A subject tag.
    public var subjectTag: String?
    /// For `forward`: where to.
    public var forward: [String]?
    /// For `pending`: seconds until the server asks again.
    public var retryAfter: Int?

    enum CodingKeys: String, CodingKey {
        case action, reason, tag, score, forward
        case addHeaders = "add_headers", subjectTag = "subject_tag", retryAfter = "retry_after"
    }

    public init(from decoder: any Decoder) throws {
        try RuleCondition.refuseUnknownKeys(in: decoder, known: ["action", "reason", "tag", "score", "forward", "add_headers", "subject_tag", "retry_after"])
        let container = try decoder.container(keyedBy: CodingKeys.self)
        action = try container.decodeIfPresent(String.self, forKey: .action).map { try FilterAction.configured($0, key: "then.action") }
        reason = try container.decodeIfPresent(String.self, forKey: .reason)
        tag = try container.decodeIfPresent(String.self, forKey: .tag)
        score = try container.decodeIfPresent(Double.self, forKey: .score)
        addHeaders = try container.decodeIfPresent([FilterReply.HeaderField].self, forKey: .addHeaders)
        subjectTag = try container.decodeIfPresent(String.self, forKey: .subjectTag)
        forward = try container.decodeIfPresent([String].self, forKey: .forward)
        retryAfter = try container.decodeIfPresent(Int.self, forKey: .retryAfter)
        guard action != nil || tag != nil || score != nil || addHeaders != nil || subjectTag != nil else {
            throw ProcessorConfigurationError("then: give an action, a tag, a score, add_headers or a subject_tag")
        }
        if action == .forward, forward?.isEmpty ?? true { throw ProcessorConfigurationError("then.forward: forward needs addresses") }
    }
}

/// A condition of a rule, checked against the request's MIME view.
public indirect enum RuleCondition: Decodable, Sendable {
    /// A header field (decoded value; any of several fields of that name) passes a test.
    case header(String, TextTest)
    /// The text or HTML body passes a test.
    case body(TextTest)
    /// The message is larger than this many octets.
    case sizeOver(Int)
    /// The message is smaller than this many octets.
    case sizeUnder(Int)
    /// An attachment's file name (`*.exe`) or content type (`application/zip`, `image/*`)
    /// matches one of the patterns.
    case attachment([String])
    /// Every condition holds.
    case all([RuleCondition])
    /// At least one condition holds.
    case any([RuleCondition])
    /// The condition does not hold.
    case not(RuleCondition)

    /// A test of a piece of text; comparisons ignore case.
    public enum TextTest: Sendable {
        /// The whole text is this.
        case equals(String)
        /// The text contains this.
        case contains(String)
        /// A regular expression matches part of the text.
        case matches(SendableRegex)
        /// The field is there (`true`) or not (`false`); for headers only.
        case exists(Bool)
    }

    public init(from decoder: any Decoder) throws {
        let keys = try decoder.container(keyedBy: AnyKey.self)
        let present = Set(keys.allKeys.map(\.stringValue))
        func key(_ name: String) -> AnyKey { AnyKey(name) }
        if present.contains("header") {
            try Self.refuseUnknownKeys(in: decoder, known: ["header", "equals", "contains", "matches", "exists"])
            self = .header(try keys.decode(String.self, forKey: key("header")), try Self.textTest(keys, allowExists: true))
        } else if present.contains("body") {
            try Self.refuseUnknownKeys(in: decoder, known: ["body"])
            let test = try keys.nestedContainer(keyedBy: AnyKey.self, forKey: key("body"))
            try Self.refuseUnknownKeys(in: try keys.superDecoder(forKey: key("body")), known: ["equals", "contains", "matches"])
            self = .body(try Self.textTest(test, allowExists: false))
        } else if present.contains("size_over") || present.contains("size_under") {
            try Self.refuseUnknownKeys(in: decoder, known: ["size_over", "size_under"])
            guard present.count == 1 else { throw ProcessorConfigurationError("if: give size_over or size_under, not both; use all: for a range") }
            self = present.contains("size_over")
                ? .sizeOver(try keys.decode(Int.self, forKey: key("size_over"))) : .sizeUnder(try keys.decode(Int.self, forKey: key("size_under")))
        } else if present.contains("attachment") {
            try Self.refuseUnknownKeys(in: decoder, known: ["attachment"])
            self = .attachment(try keys.decode([String].self, forKey: key("attachment")).map { $0.lowercased() })
        } else if present.contains("all") || present.contains("any") {
            try Self.refuseUnknownKeys(in: decoder, known: present.contains("all") ? ["all"] : ["any"])
            let name = present.contains("all") ? "all" : "any"
            let conditions = try keys.decode([RuleCondition].self, forKey: key(name))
            guard !conditions.isEmpty else { throw ProcessorConfigurationError("if.\(name): give at least one condition") }
            self = name == "all" ? .all(conditions) : .any(conditions)
        } else if present.contains("not") {
            try Self.refuseUnknownKeys(in: decoder, known: ["not"])
            self = .not(try keys.decode(RuleCondition.self, forKey: key("not")))
        } else {
            throw ProcessorConfigurationError(
                "if: a condition needs one of header, body, size_over, size_under, attachment, all, any, not; got \(present.sorted().joined(separator: ", "))")
        }
    }

    private static func textTest(_ keys: KeyedDecodingContainer<AnyKey>, allowExists: Bool) throws -> TextTest {
        let names = ["equals", "contains", "matches"] + (allowExists ? ["exists"] : [])
        let given = names.filter { keys.contains(AnyKey($0)) }
        guard given.count == 1 else {
            throw ProcessorConfigurationError("give exactly one of \(names.joined(separator: ", "))")
        }
        switch given[0] {
        case "equals": return .equals(try keys.decode(String.self, forKey: AnyKey("equals")))
        case "contains": return .contains(try keys.decode(String.self, forKey: AnyKey("contains")))
        case "matches": return .matches(try SendableRegex(try keys.decode(String.self, forKey: AnyKey("matches")), key: "matches"))
        default: return .exists(try keys.decode(Bool.self, forKey: AnyKey("exists")))
        }
    }

    /// Refuses keys other than `known` in the object `decoder` reads: a typo must not make a
    /// condition silently always or never true.
    static func refuseUnknownKeys(in decoder: any Decoder, known: Set<String>) throws {
        let unknown = try decoder.container(keyedBy: AnyKey.self).allKeys.map(\.stringValue).filter { !known.contains($0) }
        guard unknown.isEmpty else {
            throw ProcessorConfigurationError("unknown key \(unknown.sorted().joined(separator: ", ")); known here: \(known.sorted().joined(separator: ", "))")
        }
    }

    /// Whether the condition holds for `request`.
    public func holds(for request: ProcessorRequest) -> Bool {
        holds(for: request, texts: RuleTexts(request.message))
    }

    /// Whether the condition holds for `request`, whose bodies `texts` lowercases.
    func holds(for request: ProcessorRequest, texts: RuleTexts) -> Bool {
        let message = request.message
        switch self {
        case .header(let name, .exists(let expected)):
            return (message.headers.first(named: name) != nil) == expected
        case .header(let name, let test):
            return message.headers.values(name).contains { value in test.passes(value, lowercased: { value.lowercased() }) }
        case .body(let test):
            return texts.bodies.indices.contains { index in test.passes(texts.bodies[index], lowercased: { texts.lowercasedBody(index) }) }
        case .sizeOver(let octets):
            return request.metadata.size > octets
        case .sizeUnder(let octets):
            return request.metadata.size < octets
        case .attachment(let patterns):
            return message.attachments.contains { part in
                let filename = part.filename?.lowercased()
                return patterns.contains { pattern in
                    if pattern.hasPrefix("*.") { return filename?.hasSuffix(pattern.dropFirst()) ?? false }
                    if pattern.hasSuffix("/*") { return part.contentType.hasPrefix(pattern.dropLast()) }
                    return part.contentType == pattern || filename == pattern
                }
            }
        case .all(let conditions):
            return conditions.allSatisfy { $0.holds(for: request, texts: texts) }
        case .any(let conditions):
            return conditions.contains { $0.holds(for: request, texts: texts) }
        case .not(let condition):
            return !condition.holds(for: request, texts: texts)
        }
    }
}

extension RuleCondition.TextTest {
    /// Whether `text` passes; `lowercased` returns it lowercased, for `equals` and `contains`.
    func passes(_ text: String, lowercased: () -> String) -> Bool {
        switch self {
        case .equals(let expected): lowercased() == expected.lowercased()
        case .contains(let part): lowercased().contains(part.lowercased())
        case .matches(let regex): regex.matchesPart(of: text)
        case .exists: true
        }
    }
}

/// The text and HTML bodies the rules of one run look at, each lowercased at most once for
/// all of their `equals` and `contains` tests (a body is often tens of kilobytes, and
/// lowercasing it per test was most of the cost of those tests). Made per run, not shared.
final class RuleTexts {
    private let message: MIMEMessage
    private var lowercased: [Int: String] = [:]

    /// The bodies of `message`, read when a condition first asks.
    init(_ message: MIMEMessage) {
        self.message = message
    }

    /// The text body and the HTML body, those the message has.
    lazy var bodies: [String] = [message.textBody, message.htmlBody].compactMap { $0 }

    /// `bodies[index]` lowercased.
    func lowercasedBody(_ index: Int) -> String {
        if let text = lowercased[index] { return text }
        let text = bodies[index].lowercased()
        lowercased[index] = text
        return text
    }
}
