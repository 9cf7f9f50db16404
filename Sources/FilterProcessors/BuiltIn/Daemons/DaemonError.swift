/// Talking to a scanning daemon (spamd, clamd, rspamd) failed; the message says which daemon,
/// where, and what went wrong, for the operator.
public struct DaemonError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The kind of failure; an open set so that later kinds do not break callers.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        /// A short name for logs.
        public let name: String

        /// The daemon could not be reached (refused, no such socket, connect timeout).
        public static let connectionFailed = Code(name: "connectionFailed")
        /// The daemon did not answer in time.
        public static let timedOut = Code(name: "timedOut")
        /// The answer is not what the protocol says it should be.
        public static let invalidResponse = Code(name: "invalidResponse")
        /// The daemon answered with an error of its own.
        public static let daemonFailed = Code(name: "daemonFailed")
        /// The message is larger than the daemon accepts, so it was not scanned.
        public static let messageTooLarge = Code(name: "messageTooLarge")

        public var description: String { name }
    }

    /// The kind of failure.
    public var code: Code
    /// What went wrong, with the daemon's address.
    public var message: String

    /// Creates an error.
    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}
