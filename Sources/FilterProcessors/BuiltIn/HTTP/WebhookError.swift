/// Posting to a webhook failed; the message names the URL and what went wrong, for the operator.
public struct WebhookError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The kind of failure; an open set so that later kinds do not break callers.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        /// A short name for logs.
        public let name: String

        /// The receiver could not be reached (refused, unknown host, TLS failure, reset).
        public static let connectionFailed = Code(name: "connectionFailed")
        /// The receiver did not answer within `request_timeout`.
        public static let timedOut = Code(name: "timedOut")
        /// The receiver answered with a status outside 2xx.
        public static let httpStatus = Code(name: "httpStatus")
        /// The receiver's answer could not be used (not HTTP, or not a valid verdict).
        public static let invalidResponse = Code(name: "invalidResponse")
        /// The task was cancelled (the pipeline step ran out of time).
        public static let cancelled = Code(name: "cancelled")

        public var description: String { name }
    }

    /// The kind of failure.
    public var code: Code
    /// What went wrong, with the URL.
    public var message: String
    /// The HTTP status, for ``Code/httpStatus``.
    public var status: Int?

    /// Creates an error.
    public init(_ code: Code, _ message: String, status: Int? = nil) {
        self.code = code
        self.message = message
        self.status = status
    }

    public var description: String { message }

    /// Whether another attempt may succeed: connection failures, timeouts, 5xx and 429.
    var isRetryable: Bool {
        switch code {
        case .connectionFailed, .timedOut: true
        case .httpStatus: status.map { $0 >= 500 || $0 == 429 } ?? false
        default: false
        }
    }
}
