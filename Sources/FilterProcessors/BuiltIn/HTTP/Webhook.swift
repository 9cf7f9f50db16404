import FilterCore
import Foundation

/// Posts each message, as a JSON summary or raw, to one or more HTTP receivers, and optionally
/// lets their answers add to the verdict or decide.
///
/// Every URL receives every message; the URLs are posted to concurrently and the processor fails
/// (and its step's `on_error` applies) when any of them fails after its retries. Each POST
/// carries `Idempotency-Key: <request id>`, so a receiver can drop the duplicates that retries
/// and redelivered requests produce, and with a secret `X-Mailfilter-Signature: sha256=<hex>`,
/// the HMAC-SHA256 of the exact body bytes.
///
/// With `use_response: true` each answer must be a JSON object
/// `{"action": ..., "reason": ..., "score": ..., "tags": [...]}`, every field optional: scores
/// are added, tags appended, and the first answer (in the order of `urls`) with an action other
/// than `continue` decides. An answer that is not such an object is an error.
public struct Webhook: ConfigurableProcessor {
    public static let type = "webhook"
    public static let optionKeys: Set<String> = WebhookDeliveryOptions.keys.union(["urls", "body", "use_response"])

    /// The options of a `webhook` entry.
    public struct Options: Decodable, Sendable {
        /// The receivers; at least one, `http` or `https`.
        public var urls: [String]
        /// `summary` (JSON, the default) or `raw` (the message as `message/rfc822`).
        public var body: String?
        /// Whether the answers add to the verdict; default `false`.
        public var useResponse: Bool?
        /// Timeouts, retries and the signing key.
        public var delivery: WebhookDeliveryOptions

        enum CodingKeys: String, CodingKey {
            case urls, body, useResponse = "use_response"
        }

        /// Creates options.
        public init(urls: [String], body: String? = nil, useResponse: Bool? = nil, delivery: WebhookDeliveryOptions = .init()) {
            self.urls = urls
            self.body = body
            self.useResponse = useResponse
            self.delivery = delivery
        }

        public init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            urls = try container.decode([String].self, forKey: .urls)
            body = try container.decodeIfPresent(String.self, forKey: .body)
            useResponse = try container.decodeIfPresent(Bool.self, forKey: .useResponse)
            delivery = try WebhookDeliveryOptions(from: decoder)
        }
    }

    /// What is posted.
    enum Body: String {
        case summary, raw
    }

    public let name: String
    private let urls: [URL]
    private let body: Body
    private let useResponse: Bool
    private let sender: WebhookSender

    public init(name: String = type, options: Options) throws(ProcessorConfigurationError) {
        self.name = name
        urls = try options.urls.map { text throws(ProcessorConfigurationError) in try Self.receiverURL(text, key: "\(name).urls") }
        guard !urls.isEmpty else { throw ProcessorConfigurationError("\(name).urls: give at least one URL") }
        guard let body = Body(rawValue: (options.body ?? "summary").lowercased()) else {
            throw ProcessorConfigurationError("\(name).body: \"\(options.body ?? "")\" is not summary or raw")
        }
        self.body = body
        useResponse = options.useResponse ?? false
        sender = try WebhookSender(options: options.delivery, key: name)
    }

    /// Reads an `http` or `https` URL with a host.
    static func receiverURL(_ text: String, key: String) throws(ProcessorConfigurationError) -> URL {
        guard let url = URL(string: text), let scheme = url.scheme?.lowercased(), scheme == "http" || scheme == "https",
            url.host?.isEmpty == false
        else {
            throw ProcessorConfigurationError("\(key): \"\(text)\" is not an http or https URL with a host")
        }
        return url
    }

    public func process(_ request: ProcessorRequest, verdict: Verdict) async throws -> ProcessorOutcome {
        let (bytes, contentType) = try payload(request, verdict: verdict)
        let answers = try await withThrowingTaskGroup(of: (Int, WebhookResponse).self) { group in
            for (index, url) in urls.enumerated() {
                group.addTask { [sender] in
                    (index, try await sender.post(bytes, contentType: contentType, to: url, idempotencyKey: request.id))
                }
            }
            var answers: [WebhookResponse?] = Array(repeating: nil, count: urls.count)
            for try await (index, answer) in group {
                answers[index] = answer
            }
            return answers.compactMap { $0 }
        }
        guard useResponse else { return .continue(verdict) }
        var verdict = verdict
        var decision: Decision?
        for (url, answer) in zip(urls, answers) {
            let answered = try WebhookAnswer(answer.body, url: url)
            if let score = answered.score { verdict.addScore(score) }
            answered.tags.forEach { verdict.addTag($0) }
            if decision == nil, let action = answered.action {
                decision = Decision(
                    action, reason: answered.reason ?? "decided by \(name) (\(url.host ?? url.absoluteString))",
                    forward: answered.forward, retryAfter: answered.retryAfter)
            }
        }
        return decision.map { .decide($0, verdict: verdict) } ?? .continue(verdict)
    }

    private func payload(_ request: ProcessorRequest, verdict: Verdict) throws -> ([UInt8], String) {
        switch body {
        case .summary: (try MessageSummary(request, verdict: verdict).json(), "application/json")
        case .raw: (request.rawMessage, "message/rfc822")
        }
    }
}

/// A receiver's answer under `use_response`, checked.
struct WebhookAnswer {
    /// The action, `nil` for none or `continue`.
    var action: FilterAction?
    var reason: String?
    var score: Double?
    var tags: [String]
    var forward: [String]?
    var retryAfter: Int?

    /// The JSON object as sent.
    private struct Body: Decodable {
        var action: String?
        var reason: String?
        var score: Double?
        var tags: [String]?
        var forward: [String]?
        var retryAfter: Int?
    }

    /// Reads and checks an answer from `url`.
    /// - Throws: ``WebhookError/Code/invalidResponse`` saying what is wrong.
    init(_ bytes: [UInt8], url: URL) throws(WebhookError) {
        func invalid(_ problem: String) -> WebhookError {
            WebhookError(.invalidResponse, "POST \(url.absoluteString): the answer \(problem)")
        }
        let body: Body
        do {
            body = try JSONDecoder().decode(Body.self, from: Data(bytes))
        } catch {
            let shown = String(decoding: bytes.prefix(100), as: UTF8.self)
            throw invalid("is not a verdict object {\"action\", \"reason\", \"score\", \"tags\"}: \(shown)")
        }
        if let text = body.action, text.lowercased() != "continue" {
            let action = FilterAction(rawValue: text.lowercased())
            guard FilterAction.allKnown.contains(action) else {
                throw invalid("has the action \"\(text)\", which is none of continue, \(FilterAction.allKnown.map(\.rawValue).joined(separator: ", "))")
            }
            if action == .forward {
                guard let forward = body.forward, !forward.isEmpty else { throw invalid("says forward without a `forward` list of addresses") }
                if let bad = forward.first(where: { !MailboxSyntax.isValid($0) }) {
                    throw invalid("asks to forward to \"\(bad)\", which is not a valid address")
                }
            }
            if let seconds = body.retryAfter, seconds < 0 { throw invalid("has a negative retryAfter") }
            self.action = action
        }
        reason = body.reason
        score = body.score
        tags = body.tags ?? []
        forward = action == .forward ? body.forward : nil
        retryAfter = action == .pending ? body.retryAfter : nil
    }
}
