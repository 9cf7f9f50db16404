import FilterCore
import FilterSMTP
import Foundation
import Hummingbird
import Logging
import NIOCore
import Synchronization

/// The HTTP send API: `POST /api/v1/messages` composes a message from JSON and submits it to
/// the configured next hop; `GET /api/v1/openapi.yaml` serves its OpenAPI description.
///
/// Each request is checked in this order: bearer credentials (401), the credential's rate
/// limit (429), the media type (415) and size (413) of the body, JSON (400), the message
/// (422), whether the credential may use the `From` (403); then the next hop's answer decides
/// between 201, 502 (refused for good) and 503 (unreachable or refused for now). Every error
/// is an RFC 9457 problem (``ProblemDetails``). See docs/send-api.md.
public struct SendAPIFeature: WebFeature {
    /// The configuration in force.
    public let configuration: SendAPIConfiguration
    private let keys: APIKeyStore?
    private let jwt: JWTVerifier?
    private let composer: MessageComposer
    private let client: SMTPClient
    private let limiter: RateLimiterState
    private let logger: Logger

    /// Creates the feature, reading the keys file and the JWT secret the configuration names.
    /// - Throws: ``SendAPIError`` when a file cannot be read or holds a bad entry.
    public init(configuration: SendAPIConfiguration, logger: Logger) throws(SendAPIError) {
        let keys = try configuration.keysFile.map { path throws(SendAPIError) in try APIKeyStore(contentsOf: path) }
        let jwt = try configuration.jwtSecretFile.map { path throws(SendAPIError) in
            try JWTVerifier(secretFile: path, clockSkew: configuration.clockSkew)
        }
        self.init(configuration: configuration, keys: keys, jwt: jwt, logger: logger)
    }

    /// Creates the feature with credentials given directly (embedders, tests); the
    /// configuration's file names are not read.
    public init(configuration: SendAPIConfiguration, keys: APIKeyStore?, jwt: JWTVerifier?, logger: Logger) {
        self.configuration = configuration
        self.keys = keys
        self.jwt = jwt
        self.composer = MessageComposer(messageIDDomain: configuration.messageIDDomain, limits: configuration.composer)
        self.client = SMTPClient(configuration: configuration.submission)
        self.limiter = RateLimiterState(TokenBucketLimiter(perMinute: configuration.rateLimit.perMinute, burst: configuration.rateLimit.burst))
        self.logger = logger
    }

    /// Adds `POST /api/v1/messages` and `GET /api/v1/openapi.yaml`.
    public func addRoutes(to router: Router<WebRequestContext>) {
        router.post("/api/v1/messages") { request, _ in
            await self.send(request)
        }
        router.add(middleware: OnlyPost())
        router.get("/api/v1/openapi.yaml") { _, _ in
            Response(
                status: .ok, headers: [.contentType: "application/yaml; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(string: SendAPIOpenAPI.document)))
        }
    }

    // MARK: - The request

    private func send(_ request: Request) async -> Response {
        var request = request
        let credential: SendCredential
        switch authenticate(request.headers[.authorization]) {
        case .success(let value): credential = value
        case .failure(let problem): return problem.response
        }
        var logger = self.logger
        logger[metadataKey: "send.credential"] = "\(credential.name)"

        if case .limited(let wait) = limiter.acquire(credential.name) {
            let seconds = max(1, Int(wait.timeInterval.rounded(.up)))
            logger.info("Send API request refused: rate limit")
            return ProblemDetails(.rateLimited, detail: "the rate limit of \(credential.name) is used up; try again in \(seconds) s")
                .response(headers: [.retryAfter: "\(seconds)"])
        }
        let mediaType = request.headers[.contentType]?.split(separator: ";").first?.trimmingCharacters(in: .whitespaces).lowercased()
        guard let mediaType, mediaType == "application/json" || (mediaType.hasPrefix("application/") && mediaType.hasSuffix("+json")) else {
            return ProblemDetails(.unsupportedMediaType, detail: "send the message as application/json").response()
        }
        let limit = configuration.maximumBodyBytes
        let tooLarge = ProblemDetails(.tooLarge, detail: "the body is larger than \(limit) octets")
        if let length = request.headers[.contentLength].flatMap({ Int($0) }), length > limit { return tooLarge.response() }
        let body: ByteBuffer
        do {
            body = try await request.collectBody(upTo: limit)
        } catch is NIOTooManyBytesError {
            return tooLarge.response()
        } catch {
            return ProblemDetails(.malformedRequest, detail: "the body could not be read: \(error)").response()
        }

        let sendRequest: SendRequest
        do {
            sendRequest = try SendRequest.decode(Array(buffer: body))
        } catch {
            switch error {
            case .malformed(let detail): return ProblemDetails(.malformedRequest, detail: detail).response()
            case .invalid(let field, let message):
                return ProblemDetails(.validationFailed, detail: "\(field): \(message)", errors: [.init(field: field, message: message)]).response()
            }
        }
        let (draft, attachmentProblems) = sendRequest.draft()
        let message: ComposedMessage
        do {
            message = try composer.compose(draft)
        } catch {
            return Self.validationProblem(error.problems + attachmentProblems).response()
        }
        guard attachmentProblems.isEmpty else { return Self.validationProblem(attachmentProblems).response() }
        guard credential.mayUse(sender: draft.from.address) else {
            logger.info("Send API request refused: sender not allowed", metadata: ["mail.from": "\(draft.from.address)"])
            return ProblemDetails(.forbiddenSender, detail: "\(credential.name) may not send as \(draft.from.address)").response()
        }
        return await submit(message, logger: logger)
    }

    private static func validationProblem(_ problems: [MessageDraftError.Problem]) -> ProblemDetails {
        ProblemDetails(
            .validationFailed, detail: problems.map(\.description).joined(separator: "; "),
            errors: problems.map { .init(field: $0.field, message: $0.message) })
    }

    // MARK: - Authentication

    /// The bearer token's credential, or the 401 problem to answer with (RFC 6750 §3).
    private func authenticate(_ authorization: String?) -> Result<SendCredential, Unauthorized> {
        guard let authorization, authorization.count > 7, authorization.prefix(7).lowercased() == "bearer " else {
            return .failure(Unauthorized(reason: nil, detail: "send Authorization: Bearer with an API key or a JWT"))
        }
        let token = authorization.dropFirst(7).trimmingCharacters(in: .whitespaces)
        if token.contains(".") {
            guard let jwt else { return .failure(Unauthorized(reason: "this server accepts no JWTs")) }
            do {
                return .success(try jwt.verify(token, now: Date()))
            } catch {
                return .failure(Unauthorized(reason: error.reason))
            }
        }
        guard let credential = keys?.credential(forKey: token) else {
            return .failure(Unauthorized(reason: "the API key is not known"))
        }
        return .success(credential)
    }

    /// A 401 answer: no credentials (`reason` nil) or invalid ones.
    private struct Unauthorized: Error {
        var reason: String?
        var detail: String?

        var response: Response {
            var challenge = "Bearer realm=\"filterd send API\""
            if let reason {
                challenge += ", error=\"invalid_token\", error_description=\"\(reason.replacingOccurrences(of: "\"", with: "'"))\""
            }
            return ProblemDetails(.unauthorized, detail: detail ?? reason ?? "").response(headers: [.wwwAuthenticate: challenge])
        }
    }

    // MARK: - Submission

    private func submit(_ message: ComposedMessage, logger: Logger) async -> Response {
        let transaction = OutboundTransaction(
            mailFrom: message.reversePath, recipients: message.recipients.map { EnvelopeRecipient(address: $0) },
            content: .bytes(ByteBuffer(bytes: message.bytes)))
        let hop = "\(configuration.submission.host):\(configuration.submission.port)"
        let result: TransactionResult
        do {
            result = try await client.send(transaction, logger: logger)
        } catch let error as SMTPClientError {
            logger.info("Send API submission failed", metadata: ["mail.message_id": "\(message.messageID)", "error": "\(error)"])
            if let reply = error.reply, error.code == .rejected || error.code == .extensionRequired {
                let kind: ProblemDetails.Kind = reply.isTransientFailure ? .nextHopUnavailable : .nextHopRefused
                return ProblemDetails(kind, detail: "the next hop \(hop) refused the message: \(reply)").response()
            }
            return ProblemDetails(.nextHopUnavailable, detail: "the next hop \(hop) cannot take the message now: \(error)").response()
        } catch {
            return ProblemDetails(.nextHopUnavailable, detail: "the next hop \(hop) cannot take the message now: \(error)").response()
        }
        var queued: [String] = []
        var refused: [ProblemDetails.RefusedRecipient] = []
        for index in result.recipients.indices {
            let reply = result.finalReply(forRecipientAt: index)
            if (200..<300).contains(reply.code) {
                queued.append(result.recipients[index].recipient.address)
            } else {
                refused.append(.init(recipient: result.recipients[index].recipient.address, reply: "\(reply)"))
            }
        }
        logger.info(
            "Send API message submitted",
            metadata: ["mail.message_id": "\(message.messageID)", "mail.queued": "\(queued.count)", "mail.refused": "\(refused.count)"])
        guard !queued.isEmpty else {
            let transient = result.recipients.indices.allSatisfy { result.finalReply(forRecipientAt: $0).isTransientFailure }
            return ProblemDetails(
                transient ? .nextHopUnavailable : .nextHopRefused,
                detail: "the next hop \(hop) took the message for no recipient: " + refused.map { "\($0.recipient): \($0.reply)" }.joined(separator: "; "),
                refused: refused
            ).response()
        }
        let answer = SendResponse(id: message.messageID, queued: queued, refused: refused.isEmpty ? nil : refused)
        return Response(
            status: .created, headers: [.contentType: "application/json", .cacheControl: "no-store"],
            body: .init(byteBuffer: ByteBuffer(bytes: JSONBody.encode(answer))))
    }
}

/// The 201 answer: the message's id and what became of each recipient.
struct SendResponse: Codable, Sendable, Hashable {
    /// The `Message-ID`, with angle brackets.
    var id: String
    /// The recipients the next hop accepted.
    var queued: [String]
    /// The recipients it refused, when some were.
    var refused: [ProblemDetails.RefusedRecipient]?
}

/// The rate limiter shared by every request of one feature.
private final class RateLimiterState: Sendable {
    private let limiter: Mutex<TokenBucketLimiter>

    init(_ limiter: TokenBucketLimiter) {
        self.limiter = Mutex(limiter)
    }

    func acquire(_ key: String) -> TokenBucketLimiter.Decision {
        limiter.withLock { $0.acquire(key, at: .now) }
    }
}

/// The messages resource exists, so any method but `POST` on it (including ones the router has
/// never heard of, such as `QUERY`) is 405 with `Allow: POST`, not 404 (RFC 9110 §15.5.6).
private struct OnlyPost: RouterMiddleware {
    typealias Context = WebRequestContext

    func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        guard request.uri.path == "/api/v1/messages", request.method != .post else { return try await next(request, context) }
        return ProblemDetails(.methodNotAllowed, detail: "\(request.method) is not allowed here; use POST")
            .response(headers: [.allow: "POST"])
    }
}
