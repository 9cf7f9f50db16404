import Foundation

/// A case-insensitive regular expression from a configuration file, compiled when it is loaded.
///
/// ICU syntax (`NSRegularExpression`), as in most mail tools' configuration: on Linux it
/// matches a 20 kB body about 25 times faster than Swift's `Regex`, which made body rules the
/// whole cost of a pipeline (docs/performance.md, "Client pipeline throughput").
public struct SendableRegex: Sendable {
    /// The pattern as configured.
    public let pattern: String
    /// The pattern, matched anywhere.
    private let anywhere: NSRegularExpression
    /// The pattern anchored at both ends (a non-capturing group, so group numbers stay).
    private let whole: NSRegularExpression

    /// Compiles `pattern`.
    /// - Throws: ``ProcessorConfigurationError`` naming `key` when it does not compile.
    init(_ pattern: String, key: String) throws(ProcessorConfigurationError) {
        do {
            anywhere = try NSRegularExpression(pattern: pattern, options: [.caseInsensitive])
            whole = try NSRegularExpression(pattern: "^(?:\(pattern))$", options: [.caseInsensitive])
        } catch {
            throw ProcessorConfigurationError("\(key): /\(pattern)/ is not a valid regular expression")
        }
        self.pattern = pattern
    }

    /// Whether the whole of `text` matches.
    func matchesWhole(_ text: String) -> Bool {
        whole.firstMatch(in: text, range: NSRange(text.startIndex..., in: text)) != nil
    }

    /// Whether some part of `text` matches.
    func matchesPart(of text: String) -> Bool {
        anywhere.firstMatch(in: text, range: NSRange(text.startIndex..., in: text)) != nil
    }
}
