import FilterCore
import FilterProcessors
import FilterQueue
import Foundation
import Logging
import Testing

@testable import FilterEngine

private struct Failing: Processor {
    let name = "failing"
    struct Broken: Error {}
    func process(_ request: ProcessorRequest, verdict: Verdict) async throws -> ProcessorOutcome { throw Broken() }
}

/// Adds scores that sum to infinity, which JSON cannot carry.
private struct Overflowing: Processor {
    let name = "overflowing"
    func process(_ request: ProcessorRequest, verdict: Verdict) async throws -> ProcessorOutcome {
        var verdict = verdict
        verdict.addScore(.greatestFiniteMagnitude)
        verdict.addScore(.greatestFiniteMagnitude)
        return .continue(verdict)
    }
}

/// Counts the requests it sees: how often one request was delivered.
private final class Counting: Processor, @unchecked Sendable {
    let name = "counting"
    private let lock = NSLock()
    private var seen = 0
    var count: Int { lock.withLock { seen } }
    func process(_ request: ProcessorRequest, verdict: Verdict) async throws -> ProcessorOutcome {
        lock.withLock { seen += 1 }
        return .continue(verdict)
    }
}

/// The client side over the in-memory transport: every request gets exactly one answer, and
/// nothing that goes wrong leaves a request unanswered or crashes the client.
@Suite struct FilterClientTests {
    let broker = InMemoryBroker()
    let owner = "alice@example.com"
    let serverID = "mx-client-test"

    init() throws {
        broker.addServer(user: "filterd", serverID: serverID)
        try broker.subscribe(owner: owner, user: owner)
    }

    /// Runs a client with `pipeline`, publishes `requests` as the server and returns the
    /// replies, decoded, in arrival order.
    func answers(
        to requests: [OutgoingRequest], pipeline: Pipeline, fallback: FilterAction = .pass, prefetch: Int = 8,
        expecting expected: Int? = nil
    ) async throws -> [FilterReply] {
        let expected = expected ?? requests.count
        let server = InMemoryTransport(broker: broker, user: "filterd")
        let replies = try await server.replies(serverID: serverID)
        let client = FilterClient(
            transport: InMemoryTransport(broker: broker, user: owner), pipeline: pipeline,
            configuration: FilterClientConfiguration(owner: owner, prefetch: prefetch, fallbackAction: fallback),
            logger: Logger(label: "test"))
        return try await withThrowingTaskGroup(of: [FilterReply]?.self) { group in
            group.addTask { try await client.answerRequests(); return nil }
            for request in requests { #expect(try await server.publish(request) == .accepted) }
            group.addTask {
                var answers: [FilterReply] = []
                for try await reply in replies {
                    answers.append(try FilterReply(wireJSON: reply.body))
                    try await server.acknowledge(reply)
                    if answers.count == expected { break }
                }
                return answers
            }
            defer { group.cancelAll() }
            while let result = try await group.next() {
                if let answers = result { return answers }
            }
            return []
        }
    }

    func request(from sender: String, id: String = UUID().uuidString, metadata: String? = nil) throws -> OutgoingRequest {
        let envelope = Envelope(mailFrom: sender, recipients: [EnvelopeRecipient(address: owner)])
        let json = try metadata ?? FilterRequestMetadata(
            requestID: id, queueID: QueueID.generate(at: Date()), received: Date(), deadline: Date().addingTimeInterval(60),
            envelope: envelope, recipient: envelope.recipients[0], owner: owner, size: 10, truncated: false
        ).wireJSON()
        return OutgoingRequest(
            id: id, owner: owner, serverID: serverID, queueID: "Q1", metadata: json, body: Array("Subject: x\r\n\r\ny\r\n".utf8),
            expiration: .seconds(60), timestamp: Date())
    }

    @Test func thePipelineDecidesAndTheTraceNamesTheProcessor() async throws {
        let blocked = try request(from: "x@spam.example", id: "r-blocked")
        let fine = try request(from: "friend@example.org", id: "r-fine")
        let answers = try await answers(to: [blocked, fine], pipeline: Pipeline([try SenderList(options: .init(block: ["@spam.example"]))]))
        let byID = Dictionary(uniqueKeysWithValues: answers.map { ($0.id, $0) })
        #expect(byID["r-blocked"]?.action == .deny)
        #expect(byID["r-blocked"]?.processors?.map(\.name) == ["sender-list"])
        #expect(byID["r-fine"]?.action == .pass)
    }

    @Test func aFailingProcessorIsAnsweredByItsOnErrorPolicy() async throws {
        let pipeline = Pipeline(steps: [PipelineStep(Failing(), onError: .decide(.quarantine))])
        let answers = try await answers(to: [try request(from: "friend@example.org", id: "r-1")], pipeline: pipeline)
        #expect(answers.map(\.id) == ["r-1"])
        #expect(answers.first?.action == .quarantine)
        #expect(answers.first?.reason == "failing: Broken()")
        #expect(answers.first?.processors?.map(\.outcome) == ["error"])
    }

    /// A reply the pipeline made but JSON cannot carry is answered with the fallback, not
    /// left unacknowledged: with a prefetch of 1 the second request only arrives if the first
    /// was settled.
    @Test func aReplyThatCannotBeEncodedIsAnsweredWithTheFallback() async throws {
        let requests = [try request(from: "friend@example.org", id: "r-inf-1"), try request(from: "friend@example.org", id: "r-inf-2")]
        let answers = try await answers(to: requests, pipeline: Pipeline([Overflowing()]), fallback: .quarantine, prefetch: 1)
        #expect(answers.map(\.id) == ["r-inf-1", "r-inf-2"])
        #expect(answers.allSatisfy { $0.action == .quarantine && $0.reason == "the pipeline's reply could not be encoded" })
    }

    @Test func unreadableMetadataIsAnsweredWithTheFallback() async throws {
        let answers = try await answers(to: [try request(from: "", id: "r-2", metadata: "{not json")], pipeline: Pipeline([]))
        #expect(answers.map(\.id) == ["r-2"])
        #expect(answers.first?.action == .pass)
        #expect(answers.first?.reason == "unreadable request")
    }

    /// docs/protocol.md, client rule 7: a reply the broker does not take (here: the server has
    /// no reply queue yet) leaves the request unacknowledged; the client gives it back after
    /// its pause, answers it again, and the answer arrives once the server consumes.
    @Test(.timeLimit(.minutes(1))) func aReplyNotTakenIsRetriedAfterThePause() async throws {
        let counting = Counting()
        let client = FilterClient(
            transport: InMemoryTransport(broker: broker, user: owner), pipeline: Pipeline([counting]),
            configuration: FilterClientConfiguration(owner: owner, prefetch: 1, requeuePause: .milliseconds(20)),
            logger: Logger(label: "test"))
        let server = InMemoryTransport(broker: broker, user: "filterd")
        var late = try request(from: "a@example.org", id: "r-late")
        late.serverID = "mx-not-yet-consuming"
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await client.answerRequests() }
            defer { group.cancelAll() }
            #expect(try await server.publish(late) == .accepted)
            // Delivered again to the same client on the same connection: only a requeue does that.
            while counting.count < 3 { try await Task.sleep(for: .milliseconds(10)) }
            var replies = try await server.replies(serverID: late.serverID).makeAsyncIterator()
            let reply = try #require(try await replies.next())
            #expect(try FilterReply(wireJSON: reply.body).id == "r-late")
        }
    }

    @Test func aRequestThatCannotBeAnsweredIsDiscardedSoTheNextOneComes() async throws {
        // With a prefetch of 1, the request after it only arrives if the unanswerable one
        // (no correlation id) was acknowledged.
        let unanswerable = try request(from: "a@example.org", id: "")
        let answers = try await answers(
            to: [unanswerable, try request(from: "a@example.org", id: "r-4")], pipeline: Pipeline([]), prefetch: 1, expecting: 1)
        #expect(answers.map(\.id) == ["r-4"])
    }
}
