extension DecodingError {
    /// What is wrong with a configuration value, said for an operator: `expected Int`, `the
    /// option \`block\` is missing`. The key's path is not included; callers name it.
    public var operatorDescription: String {
        switch self {
        case .keyNotFound(let key, _):
            "the option `\(key.stringValue)` is missing"
        case .typeMismatch(let type, _), .valueNotFound(let type, _):
            "expected \(Self.typeName(type))"
        case .dataCorrupted(let context):
            context.debugDescription
        @unknown default:
            "\(self)"
        }
    }

    /// The last named key of the path where decoding failed (array positions skipped), if any.
    public var lastKey: String? {
        codingPath.compactMap { $0.intValue == nil ? $0.stringValue : nil }.last
    }

    /// The path where decoding failed, by key name (array positions skipped).
    public var codingPath: [any CodingKey] {
        switch self {
        case .typeMismatch(_, let context), .valueNotFound(_, let context), .keyNotFound(_, let context), .dataCorrupted(let context):
            context.codingPath
        @unknown default:
            []
        }
    }

    private static func typeName(_ type: Any.Type) -> String {
        switch type {
        case is String.Type: "a string"
        case is Int.Type: "a whole number"
        case is Double.Type: "a number"
        case is Bool.Type: "true or false"
        default: "\(type)".hasPrefix("Array") ? "a list" : (("\(type)".hasPrefix("Dictionary")) ? "a mapping" : "\(type)")
        }
    }
}
