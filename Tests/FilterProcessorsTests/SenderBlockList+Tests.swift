import FilterCore
import FilterProcessors
import Foundation
import Testing

@Suite struct SenderBlockListTests {
    let list = try! SenderBlockList(blocking: ["Spam@Example.net", "@bad.example", ".worse.example"])

    @Test(arguments: [
        ("spam@example.net", true),
        ("SPAM@EXAMPLE.NET", true),
        ("ham@example.net", false),
        ("anyone@bad.example", true),
        ("anyone@sub.bad.example", false),
        ("anyone@worse.example", true),
        ("anyone@deep.sub.worse.example", true),
        ("anyone@notworse.example", false),
        ("", false),
        ("no-domain", false),
    ])
    func matches(sender: String, blocked: Bool) {
        #expect(list.blocks(sender) == blocked)
    }

    @Test func deniesBlockedSendersOnly() async throws {
        let recipient = EnvelopeRecipient(address: "alice@example.com")
        let blocked = Envelope(mailFrom: "spam@example.net", recipients: [recipient])
        let fine = Envelope(mailFrom: "friend@example.org", recipients: [recipient])
        #expect(try await list.process(blocked, recipient: recipient) == .deny)
        #expect(try await list.process(fine, recipient: recipient) == nil)
    }

    @Test(arguments: ["", "@", ".", "user@", "plainword"])
    func refusesMeaninglessEntries(entry: String) {
        #expect(throws: ProcessorConfigurationError.self) { try SenderBlockList(blocking: [entry]) }
    }
}

@Suite struct PipelineConfigurationTests {
    @Test func buildsTheProcessorsInOrder() async throws {
        let json = #"[{"type": "sender-block-list", "block": ["@bad.example"]}]"#
        let configuration = try JSONDecoder().decode(PipelineConfiguration.self, from: Data(json.utf8))
        #expect(configuration.processors == [.senderBlockList(block: ["@bad.example"])])
        let pipeline = try configuration.makePipeline()
        let recipient = EnvelopeRecipient(address: "alice@example.com")
        let decision = try await pipeline.decide(Envelope(mailFrom: "x@bad.example", recipients: [recipient]), recipient: recipient)
        #expect(decision.action == .deny)
        #expect(decision.decidedBy == "sender-block-list")
    }

    @Test func unknownTypeIsRefusedByName() {
        let json = #"[{"type": "crystal-ball"}]"#
        #expect {
            try JSONDecoder().decode(PipelineConfiguration.self, from: Data(json.utf8))
        } throws: { error in
            "\(error)".contains("crystal-ball")
        }
    }

    @Test func invalidOptionNamesTheEntry() throws {
        let configuration = PipelineConfiguration(processors: [.senderBlockList(block: ["ok@example.com"]), .senderBlockList(block: ["user@"])])
        #expect {
            try configuration.makePipeline()
        } throws: { error in
            "\(error)".contains("pipeline entry 2") && "\(error)".contains("user@")
        }
    }
}
