/// A failure of the console's authentication that the operator must see: a password file that
/// cannot be read or parsed, a malformed password hash, a credential source that cannot answer.
///
/// A wrong user name or password is not an error: ``ConsoleAuthentication/authenticate(username:password:)``
/// answers `nil` for it.
public struct ConsoleAuthError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What kind of failure.
    public struct Code: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
        /// The code's name, as logged.
        public var rawValue: String
        /// Creates a code.
        public init(rawValue: String) { self.rawValue = rawValue }
        /// The code's name.
        public var description: String { rawValue }

        /// A password file cannot be read.
        public static let unreadableFile = Code(rawValue: "unreadable-file")
        /// A password file has a line that is not `name:HASH`.
        public static let malformedFile = Code(rawValue: "malformed-file")
        /// A password hash is not `pbkdf2-sha256$ITERATIONS$SALT_B64$HASH_B64`.
        public static let malformedHash = Code(rawValue: "malformed-hash")
        /// A credential source (the broker) cannot be asked now.
        public static let sourceUnavailable = Code(rawValue: "source-unavailable")
    }

    /// What kind of failure.
    public var code: Code
    /// What happened, for the operator (never a password or a hash).
    public var message: String

    /// Creates an error.
    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    /// `code: message`.
    public var description: String { "\(code): \(message)" }
}
