import Testing

@testable import FilterQueue

/// Topic-exchange matching of the in-memory `mailfilter.events`, as RabbitMQ matches (docs/broker.md, "Events").
@Suite("TopicKey")
struct TopicKeyTests {
    @Test(arguments: [
        ("alice@example.com", "alice@example.com", true),
        ("alice@example.com", "bob@example.com", false),
        ("#", "alice@example.com", true),
        ("#.com", "alice@example.com", true),
        ("#.org", "alice@example.com", false),
        ("*", "alice@example.com", false),
        ("*.com", "alice@example.com", true),
        ("j.*.com", "j.smith@example.com", true),
        ("j.smith@example.com", "jxsmith@example.com", false),
        ("#.#", "a", true),
        ("a.#.b", "a.b", true),
        ("a.#.b", "a.x.y.b", true),
        ("a.*.b", "a.b", false),
    ])
    func matches(binding: String, routingKey: String, expected: Bool) {
        #expect(TopicKey.matches(binding: binding, routingKey: routingKey) == expected)
    }
}
