import FilterCore
import Testing

@testable import FilterProcessors

@Suite struct SenderListTests {
    func action(_ list: SenderList, sender: String) async throws -> FilterAction? {
        try await list.process(.fixture(from: sender), verdict: Verdict()).decision?.action
    }

    @Test(arguments: [
        ("Spam@Example.net", true), ("spam@example.net", true), ("other@example.net", false),
        ("x@bad.example", true), ("x@sub.bad.example", false),
        ("x@a.wild.example", true), ("x@wild.example", false),
        ("x@worse.example", true), ("x@deep.sub.worse.example", true), ("x@notworse.example", false),
        ("x@plain.example", true), ("promo-123@shop.example", true), ("promo@shop.example", false),
        ("", true),
    ])
    func blockEntriesMatch(sender: String, blocked: Bool) async throws {
        let list = try SenderList(options: .init(block: [
            "spam@example.net", "@bad.example", "*.wild.example", ".worse.example", "plain.example", "/promo-[0-9]+@shop\\.example/", "<>",
        ]))
        #expect(try await action(list, sender: sender) == (blocked ? .deny : nil))
    }

    @Test func allowWinsOverBlock() async throws {
        let list = try SenderList(options: .init(allow: ["boss@bad.example"], block: ["@bad.example"]))
        #expect(try await action(list, sender: "boss@bad.example") == .pass)
        #expect(try await action(list, sender: "other@bad.example") == .deny)
    }

    @Test func allowCanContinueWithATag() async throws {
        let list = try SenderList(options: .init(allow: ["@friends.example"], allowAction: "continue"))
        let outcome = try await list.process(.fixture(from: "a@friends.example"), verdict: Verdict())
        #expect(outcome.decision == nil)
        #expect(outcome.verdict.tags == ["sender-allowed"])
    }

    @Test func blockActionIsConfigurable() async throws {
        let list = try SenderList(options: .init(block: ["@bad.example"], blockAction: "quarantine"))
        #expect(try await action(list, sender: "x@bad.example") == .quarantine)
    }

    @Test(arguments: ["user@", "@", "nodots", "/[unclosed/", "*."])
    func invalidEntriesAreRefused(entry: String) {
        #expect(throws: ProcessorConfigurationError.self) { try SenderList(options: .init(block: [entry])) }
    }

    @Test func anEmptyListIsRefused() {
        #expect(throws: ProcessorConfigurationError.self) { try SenderList(options: .init()) }
    }

    @Test func anUnknownActionIsRefused() {
        #expect(throws: ProcessorConfigurationError.self) { try SenderList(options: .init(block: ["@x.example"], blockAction: "drop")) }
    }
}
