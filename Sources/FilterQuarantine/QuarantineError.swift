#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A failure of the quarantine store, worded for the operator: it says what the store was
/// doing, names the file when there is one, and carries the underlying reason.
public struct QuarantineError: Error, Sendable, CustomStringConvertible {
    /// What kind of failure this is; an open set so new kinds never break callers' switches.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        /// The stable name of the code, as it appears in logs.
        public let rawValue: String

        /// A file or directory of the store could not be read or written (disk full,
        /// permissions, I/O error).
        public static let ioFailure = Code(rawValue: "ioFailure")
        /// The SQLite database refused an operation (locked, corrupt, not a database).
        public static let database = Code(rawValue: "database")
        /// No entry has the given id.
        public static let notFound = Code(rawValue: "notFound")
        /// The arguments cannot be stored: an id that is not a safe file name, an envelope
        /// without exactly one recipient.
        public static let invalidArgument = Code(rawValue: "invalidArgument")
        /// The store was opened read-only and was asked to change something.
        public static let readOnly = Code(rawValue: "readOnly")
        /// Another operation on the same entry is in progress.
        public static let busy = Code(rawValue: "busy")
        /// The server runs without a quarantine (`quarantine: enabled: false`).
        public static let disabled = Code(rawValue: "disabled")
        /// Stored data is unusable: a message file whose size differs from its row, an
        /// envelope that is not valid JSON.
        public static let corrupt = Code(rawValue: "corrupt")

        /// The code's name.
        public var description: String { rawValue }
    }

    /// The kind of failure.
    public var code: Code
    /// What the store was doing or found, e.g. `cannot open the database`.
    public var message: String
    /// The file or directory concerned, when there is one.
    public var path: String?
    /// The underlying reason (an `errno` text or SQLite's message), when there is one.
    public var reason: String?

    /// Creates an error.
    public init(code: Code, message: String, path: String? = nil, reason: String? = nil) {
        self.code = code
        self.message = message
        self.path = path
        self.reason = reason
    }

    /// `quarantine ioFailure: cannot write the message file: /var/spool/filterd/quarantine/tmp/X: No space left on device`.
    public var description: String {
        var text = "quarantine \(code): \(message)"
        if let path { text += ": \(path)" }
        if let reason { text += ": \(reason)" }
        return text
    }

    /// An I/O failure carrying the current `errno` text.
    static func systemCall(_ message: String, path: String, errorNumber: Int32 = errno) -> QuarantineError {
        QuarantineError(
            code: .ioFailure, message: message, path: path,
            reason: "\(String(cString: strerror(errorNumber))) (errno \(errorNumber))")
    }
}
