/// An error of the SMTP layer, carrying the reply the server sends for it.
///
/// The set of codes is open: new ones may be added without breaking callers.
public struct SMTPError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What went wrong.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private let name: String
        private init(_ name: String) { self.name = name }
        public var description: String { name }

        /// The command verb is not one the server knows.
        public static let unrecognizedCommand = Code("unrecognized command")
        /// The command's arguments do not follow its syntax.
        public static let syntaxError = Code("syntax error")
        /// An ESMTP parameter the server does not support.
        public static let unsupportedParameter = Code("unsupported parameter")
        /// A mailbox that does not follow RFC 5321 (or RFC 6531) syntax.
        public static let badAddress = Code("bad address syntax")
        /// A NUL byte in a command line.
        public static let nulByte = Code("NUL byte in command")
        /// A line feed not preceded by a carriage return in a command line.
        public static let bareLineFeed = Code("bare LF in command")
        /// A command line longer than the configured limit.
        public static let lineTooLong = Code("command line too long")
    }

    /// What went wrong.
    public var code: Code
    /// The reply the server sends to the client for this error.
    public var reply: SMTPReply

    /// Creates an error with the reply to send.
    public init(_ code: Code, reply: SMTPReply) {
        self.code = code
        self.reply = reply
    }

    public var description: String { "\(code): \(reply)" }
}
