import Foundation
import Hummingbird

/// An RFC 9457 problem response (`application/problem+json`): what went wrong with a request
/// to the send API, for a program and for the person reading its logs.
public struct ProblemDetails: Sendable, Hashable, Codable {
    /// One invalid field of the request.
    public struct FieldError: Sendable, Hashable, Codable {
        /// The field's path in the request, e.g. `to[1]` or `attachments[0].content`.
        public var field: String
        /// What is wrong with it.
        public var message: String

        /// Creates a field error.
        public init(field: String, message: String) {
            self.field = field
            self.message = message
        }
    }

    /// A recipient the next hop refused, and its reply.
    public struct RefusedRecipient: Sendable, Hashable, Codable {
        /// The address.
        public var recipient: String
        /// The next hop's reply, e.g. `550 5.1.1 <x@example.com>: Recipient address rejected`.
        public var reply: String

        /// Creates a refused recipient.
        public init(recipient: String, reply: String) {
            self.recipient = recipient
            self.reply = reply
        }
    }

    /// The problem type: a tag URI naming the kind of problem (see ``Kind``).
    public var type: String
    /// A short summary, the same for every problem of the type.
    public var title: String
    /// The HTTP status code.
    public var status: Int
    /// This occurrence, explained.
    public var detail: String
    /// The invalid fields, for validation problems.
    public var errors: [FieldError]?
    /// The refused recipients, when the next hop refused them.
    public var refused: [RefusedRecipient]?

    /// A kind of problem: its type URI, title and status. An open set.
    public struct Kind: Sendable, Hashable {
        /// The type URI: `tag:filterd,2026:problems/NAME` (RFC 4151; not meant to be fetched).
        public var type: String
        /// The summary.
        public var title: String
        /// The HTTP status.
        public var status: HTTPResponse.Status

        init(_ name: String, _ title: String, _ status: HTTPResponse.Status) {
            self.type = "tag:filterd,2026:problems/\(name)"
            self.title = title
            self.status = status
        }

        /// 400: the body is not JSON.
        public static let malformedRequest = Kind("malformed-request", "The request body is not valid JSON", .badRequest)
        /// 401: no credentials, or credentials that are not valid.
        public static let unauthorized = Kind("unauthorized", "Authentication is required", .unauthorized)
        /// 403: the credentials may not send as this `From`.
        public static let forbiddenSender = Kind("forbidden-sender", "The credentials may not send as this sender", .forbidden)
        /// 405: a method other than `POST` on the messages resource.
        public static let methodNotAllowed = Kind("method-not-allowed", "Messages are sent with POST", .methodNotAllowed)
        /// 413: the body is larger than the configured limit.
        public static let tooLarge = Kind("too-large", "The request body is too large", .contentTooLarge)
        /// 415: the body is not `application/json`.
        public static let unsupportedMediaType = Kind("unsupported-media-type", "The request body must be application/json", .unsupportedMediaType)
        /// 422: JSON, but not a valid message.
        public static let validationFailed = Kind("validation-failed", "The message is not valid", .unprocessableContent)
        /// 429: the key's rate limit is used up.
        public static let rateLimited = Kind("rate-limited", "Too many requests for these credentials", .tooManyRequests)
        /// 502: the next hop refused the message for good.
        public static let nextHopRefused = Kind("next-hop-refused", "The mail system refused the message", .badGateway)
        /// 503: the next hop is unreachable or refused the message for now.
        public static let nextHopUnavailable = Kind("next-hop-unavailable", "The mail system cannot take the message now", .serviceUnavailable)
    }

    /// Creates a problem of `kind`.
    public init(_ kind: Kind, detail: String, errors: [FieldError]? = nil, refused: [RefusedRecipient]? = nil) {
        self.type = kind.type
        self.title = kind.title
        self.status = kind.status.code
        self.detail = detail
        self.errors = errors
        self.refused = refused
    }

    /// The response: this problem as JSON with `Content-Type: application/problem+json`,
    /// and `headers` added.
    func response(headers: HTTPFields = [:]) -> Response {
        var fields = headers
        fields[.contentType] = "application/problem+json"
        fields[.cacheControl] = "no-store"
        return Response(status: .init(code: status), headers: fields, body: .init(byteBuffer: ByteBuffer(bytes: JSONBody.encode(self))))
    }
}

/// JSON encoding for the API's responses: sorted keys (stable output) and no escaped slashes.
enum JSONBody {
    static func encode(_ value: some Encodable) -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // The API's response types hold only strings, numbers and arrays of them.
        return Array((try? encoder.encode(value)) ?? Data("{}".utf8))
    }
}
