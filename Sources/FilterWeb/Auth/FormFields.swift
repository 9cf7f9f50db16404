import Foundation
import Hummingbird

/// The fields of an `application/x-www-form-urlencoded` body (WHATWG URL standard §5.1):
/// `name=value` pairs joined by `&`, `+` for space, percent-escapes; the first of a repeated
/// name wins. A pair that does not decode is skipped.
struct FormFields: Sendable {
    private var fields: [String: String] = [:]

    /// Parses a form body.
    init(_ body: ByteBuffer) {
        let text = String(buffer: body)
        for pair in text.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard let name = Self.decode(parts[0]) else { continue }
            let value = parts.count > 1 ? Self.decode(parts[1]) : ""
            if fields[name] == nil, let value { fields[name] = value }
        }
    }

    /// The value of field `name`.
    subscript(_ name: String) -> String? { fields[name] }

    /// Whether `request` carries a form body this type reads.
    static func isForm(_ request: Request) -> Bool {
        guard let type = request.headers[.contentType] else { return false }
        return type.lowercased().hasPrefix("application/x-www-form-urlencoded")
    }

    private static func decode(_ text: Substring) -> String? {
        text.replacingOccurrences(of: "+", with: " ").removingPercentEncoding
    }
}
