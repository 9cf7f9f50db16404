/// An error of the SMTP client that reinjects mail into the next hop.
///
/// The set of codes is open: new ones may be added without breaking callers. Use
/// ``isTransient`` to decide between retrying later (the message stays spooled) and bouncing.
public struct SMTPClientError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What went wrong.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private let name: String
        fileprivate let isTransient: Bool
        private init(_ name: String, isTransient: Bool) {
            self.name = name
            self.isTransient = isTransient
        }
        public var description: String { name }

        /// The TCP connection to the next hop could not be established (refused, unreachable,
        /// connect timeout). Transient.
        public static let connectFailed = Code("connect failed", isTransient: true)
        /// The next hop did not answer, or did not accept content, within the configured time.
        /// Transient.
        public static let timeout = Code("timeout", isTransient: true)
        /// The connection broke while a reply or a write was outstanding. Transient.
        public static let connectionClosed = Code("connection closed", isTransient: true)
        /// The next hop sent something that is not an SMTP reply (RFC 5321 §4.2), or a reply
        /// longer than the configured limits. Transient, as Postfix treats a protocol error.
        public static let protocolViolation = Code("protocol violation", isTransient: true)
        /// The next hop refused the transaction; ``SMTPClientError/reply`` holds its reply, and
        /// whether the error is transient follows the reply code (4yz or 5yz).
        public static let rejected = Code("rejected", isTransient: false)
        /// The message needs an extension the next hop does not offer (SMTPUTF8, RFC 6531 §3.4).
        /// ``SMTPClientError/reply`` holds a synthesized permanent reply (5.6.7). Permanent.
        public static let extensionRequired = Code("extension required", isTransient: false)
        /// A command argument (address, parameter) contains a line break or NUL and can never
        /// be sent. Permanent.
        public static let invalidArgument = Code("invalid argument", isTransient: false)
        /// The message content could not be read from the spool. Transient: the spool may be
        /// repaired, and the message must not be bounced for a local fault.
        public static let contentUnreadable = Code("content unreadable", isTransient: true)
        /// The client was shut down. Transient.
        public static let shutDown = Code("client shut down", isTransient: true)
    }

    /// What went wrong.
    public var code: Code
    /// An operator-readable explanation: what the client was doing and what happened.
    public var message: String
    /// The reply of the next hop (for ``Code/rejected``) or the synthesized reply (for
    /// ``Code/extensionRequired``), suitable for a DSN's `Diagnostic-Code`.
    public var reply: SMTPReply?

    /// Creates an error.
    public init(_ code: Code, _ message: String, reply: SMTPReply? = nil) {
        self.code = code
        self.message = message
        self.reply = reply
    }

    /// Whether the delivery may succeed later (retry, keep the message spooled) rather than
    /// failing for good (bounce): 4yz replies and connection problems are transient, 5yz
    /// replies are permanent (RFC 5321 §4.2.1).
    public var isTransient: Bool {
        if let reply, code == .rejected { return reply.isTransientFailure }
        return code.isTransient
    }

    public var description: String {
        let replyText = reply.map { " (\($0))" } ?? ""
        return "\(code): \(message)\(replyText)"
    }
}
