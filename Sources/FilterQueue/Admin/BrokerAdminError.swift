/// A failure of broker administration (`filterctl setup`, `filterctl user ...`), with a message
/// an operator can act on. Never carries a password.
public struct BrokerAdminError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What kind of failure. The set is open: new codes may be added without breaking callers.
    public struct Code: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
        /// The code's name, as printed.
        public var rawValue: String
        /// Creates a code.
        public init(rawValue: String) { self.rawValue = rawValue }
        /// The code's name.
        public var description: String { rawValue }

        /// A management or AMQP URL is not valid.
        public static let invalidURL = Code(rawValue: "invalid-url")
        /// No user name or no password was given for the management API.
        public static let missingCredentials = Code(rawValue: "missing-credentials")
        /// The management API could not be reached (connection refused, timeout, DNS).
        public static let connectionFailed = Code(rawValue: "connection-failed")
        /// The management API answered with an HTTP error; ``BrokerAdminError/status`` and
        /// ``BrokerAdminError/reason`` say which.
        public static let httpStatus = Code(rawValue: "http-status")
        /// The management API answered with something that is not the JSON expected.
        public static let invalidResponse = Code(rawValue: "invalid-response")
        /// The owner address cannot be a broker user (too long, empty, a topic wildcard word).
        public static let invalidOwner = Code(rawValue: "invalid-owner")
        /// The server id cannot name a reply queue.
        public static let invalidServerID = Code(rawValue: "invalid-server-id")
    }

    /// What kind of failure.
    public var code: Code
    /// What happened, for the operator.
    public var message: String
    /// The HTTP status of the management API's answer, for ``Code/httpStatus``.
    public var status: Int?
    /// RabbitMQ's `reason` text from the answer's JSON body, for ``Code/httpStatus``.
    public var reason: String?

    /// Creates an error.
    /// - Parameters:
    ///   - code: What kind of failure.
    ///   - message: What happened, for the operator (no password).
    ///   - status: The HTTP status, if the broker answered.
    ///   - reason: RabbitMQ's `reason` text, if it gave one.
    public init(_ code: Code, _ message: String, status: Int? = nil, reason: String? = nil) {
        self.code = code
        self.message = message
        self.status = status
        self.reason = reason
    }

    /// `code: message`, followed by the HTTP status and RabbitMQ's reason when there are any.
    public var description: String {
        var text = "\(code): \(message)"
        if let status { text += " (HTTP \(status)" + (reason.map { ": \($0)" } ?? "") + ")" }
        return text
    }
}
