/// AMQP topic-exchange matching, as RabbitMQ does it: keys are words separated by `.`; in a
/// binding key `*` stands for exactly one word and `#` for zero or more.
enum TopicKey {
    /// Whether a message with `routingKey` goes to a queue bound with `binding`.
    static func matches(binding: String, routingKey: String) -> Bool {
        matches(
            binding.split(separator: ".", omittingEmptySubsequences: false)[...],
            routingKey.split(separator: ".", omittingEmptySubsequences: false)[...])
    }

    private static func matches(_ pattern: ArraySlice<Substring>, _ words: ArraySlice<Substring>) -> Bool {
        guard let first = pattern.first else { return words.isEmpty }
        let rest = pattern.dropFirst()
        if first == "#" {
            // Zero words, or one more word and `#` again.
            return matches(rest, words) || (!words.isEmpty && matches(pattern, words.dropFirst()))
        }
        guard let word = words.first, first == "*" || first == word else { return false }
        return matches(rest, words.dropFirst())
    }
}
