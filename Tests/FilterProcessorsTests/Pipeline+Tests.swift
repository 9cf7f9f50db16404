import FilterCore
import Testing

@testable import FilterProcessors

private struct Fixed: Processor {
    let name: String
    let action: FilterAction?
    func process(_ envelope: Envelope, recipient: EnvelopeRecipient) async throws -> FilterAction? { action }
}

@Suite struct PipelineTests {
    let envelope = Envelope(mailFrom: "a@example.com", recipients: [EnvelopeRecipient(address: "b@example.com")])

    @Test func firstDecisionWins() async throws {
        let pipeline = Pipeline([Fixed(name: "one", action: nil), Fixed(name: "two", action: .deny), Fixed(name: "three", action: .spam)])
        let result = try await pipeline.decide(envelope, recipient: envelope.recipients[0])
        #expect(result.action == .deny)
        #expect(result.decidedBy == "two")
    }

    @Test func noDecisionMeansPass() async throws {
        let result = try await Pipeline([Fixed(name: "one", action: nil)]).decide(envelope, recipient: envelope.recipients[0])
        #expect(result.action == .pass)
        #expect(result.decidedBy == nil)
    }
}
