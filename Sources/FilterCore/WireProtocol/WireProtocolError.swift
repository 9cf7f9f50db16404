/// A wire protocol v1 document (request metadata or reply) that cannot be read or written,
/// with what an operator needs to find the culprit.
public struct WireProtocolError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What kind of failure.
    public struct Code: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
        /// The code's stable name, for logs and metrics labels (`missing-action`).
        public var rawValue: String
        /// Creates a code; the static members list those this module produces.
        public init(rawValue: String) { self.rawValue = rawValue }
        /// The stable name.
        public var description: String { rawValue }

        /// Not JSON, or not a JSON object.
        public static let malformedJSON = Code(rawValue: "malformed-json")
        /// `version` is missing or not 1.
        public static let wrongVersion = Code(rawValue: "wrong-version")
        /// `id` is missing, `null` or empty.
        public static let missingID = Code(rawValue: "missing-id")
        /// A reply's `action` is missing or `null`.
        public static let missingAction = Code(rawValue: "missing-action")
        /// A reply's `action` is not one wire protocol v1 defines (``FilterAction/allKnown``).
        public static let unknownAction = Code(rawValue: "unknown-action")
        /// A field has the wrong JSON type (a string where a number belongs, ...).
        public static let invalidFieldType = Code(rawValue: "invalid-field-type")
        /// A required field other than `id` and `action` is missing.
        public static let missingField = Code(rawValue: "missing-field")
        /// A value cannot be written as JSON (a score that is not a finite number).
        public static let unencodable = Code(rawValue: "unencodable")
    }

    /// What kind of failure.
    public var code: Code
    /// What is wrong, for the operator.
    public var message: String
    /// The path of the offending field (`addHeaders[0].name`), when one field is to blame.
    public var field: String?

    /// Creates an error.
    public init(_ code: Code, _ message: String, field: String? = nil) {
        self.code = code
        self.message = message
        self.field = field
    }

    /// `code: message`, for logs.
    /// `code: message`, for logs.
    public var description: String { "\(code): \(message)" }
}
