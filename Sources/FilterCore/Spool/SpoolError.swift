#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A failure of the durable spool, worded for the operator: it names the file and the
/// operating system's reason.
public struct SpoolError: Error, Sendable, CustomStringConvertible {
    /// What kind of failure this is; an open set so new kinds never break callers' switches.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        /// The stable name of the code, as it appears in logs.
        public let rawValue: String

        /// A system call on a spool file or directory failed (disk full, I/O error, permissions).
        public static let ioFailure = Code(rawValue: "ioFailure")
        /// A spool file exists but its content is unusable (unparsable JSON, wrong size).
        public static let corrupt = Code(rawValue: "corrupt")
        /// The requested queue entry does not exist.
        public static let notFound = Code(rawValue: "notFound")
        /// A message writer was used after `commit`/`abort`, after a failure, or by two tasks at once.
        public static let invalidState = Code(rawValue: "invalidState")

        /// The code's name.
        public var description: String { rawValue }
    }

    /// The kind of failure.
    public var code: Code
    /// What the spool was doing, e.g. `fsync failed`.
    public var message: String
    /// The file or directory concerned, when there is one.
    public var path: String?
    /// The `errno` value of the failed system call, when there is one.
    public var errorNumber: Int32?

    /// Creates an error.
    public init(code: Code, message: String, path: String? = nil, errorNumber: Int32? = nil) {
        self.code = code
        self.message = message
        self.path = path
        self.errorNumber = errorNumber
    }

    /// `spool ioFailure: fsync failed: /var/spool/filterd/tmp/X.msg: No space left on device (errno 28)`.
    public var description: String {
        var text = "spool \(code): \(message)"
        if let path { text += ": \(path)" }
        if let errorNumber { text += ": \(String(cString: strerror(errorNumber))) (errno \(errorNumber))" }
        return text
    }

    /// An I/O failure carrying the current `errno`.
    static func systemCall(_ message: String, path: String, errorNumber: Int32 = errno) -> SpoolError {
        SpoolError(code: .ioFailure, message: message, path: path, errorNumber: errorNumber)
    }
}
