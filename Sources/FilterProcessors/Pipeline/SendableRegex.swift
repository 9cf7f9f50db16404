/// A case-insensitive regular expression from a configuration file, compiled when it is loaded.
public struct SendableRegex: Sendable {
    /// The pattern as configured.
    public let pattern: String
    /// `Regex` is an immutable value whose lazily lowered program is published atomically, so
    /// concurrent matching is safe; it is just not declared `Sendable`.
    nonisolated(unsafe) private let regex: Regex<AnyRegexOutput>

    /// Compiles `pattern`.
    /// - Throws: ``ProcessorConfigurationError`` naming `key` when it does not compile.
    init(_ pattern: String, key: String) throws(ProcessorConfigurationError) {
        do {
            regex = try Regex(pattern).ignoresCase()
        } catch {
            throw ProcessorConfigurationError("\(key): /\(pattern)/ is not a valid regular expression: \(error)")
        }
        self.pattern = pattern
    }

    /// Whether the whole of `text` matches.
    func matchesWhole(_ text: String) -> Bool {
        (try? regex.wholeMatch(in: text)) != nil
    }

    /// Whether some part of `text` matches.
    func matchesPart(of text: String) -> Bool {
        (try? regex.firstMatch(in: text)) != nil
    }
}
