import FilterCore
import Synchronization
import Testing

@testable import FilterProcessors

/// Adds a tag and a score, then decides `action` when it has one.
private struct Scripted: Processor {
    let name: String
    var action: FilterAction? = nil
    var points: Double = 1
    func process(_ request: ProcessorRequest, verdict: Verdict) async throws -> ProcessorOutcome {
        var verdict = verdict
        verdict.addScore(points)
        verdict.addTag(name)
        verdict.addHeaders.append(.init(name: "X-Seen-By", value: name))
        guard let action else { return .continue(verdict) }
        return .decide(Decision(action, reason: "\(name) said so"), verdict: verdict)
    }
}

private struct Broken: Error, CustomStringConvertible {
    var description: String { "daemon refused the connection" }
}

private struct Throwing: Processor {
    let name = "throwing"
    func process(_ request: ProcessorRequest, verdict: Verdict) async throws -> ProcessorOutcome { throw Broken() }
}

private final class Flag: Sendable {
    let isSet = Atomic(false)
}

/// Answers only after an hour unless cancelled; the pipeline must not wait for it.
private struct Hanging: Processor {
    let name = "hanging"
    let finished: Flag
    func process(_ request: ProcessorRequest, verdict: Verdict) async throws -> ProcessorOutcome {
        let until = ContinuousClock.now + .seconds(3600)
        while ContinuousClock.now < until, !Task.isCancelled {
            try? await Task.sleep(for: .milliseconds(10))
        }
        finished.isSet.store(true, ordering: .sequentiallyConsistent)
        return .continue(verdict)
    }
}

@Suite struct PipelineTests {
    let request = ProcessorRequest.fixture()

    @Test func theFirstDecisionWinsAndLaterProcessorsDoNotRun() async {
        let result = await Pipeline([Scripted(name: "one"), Scripted(name: "two", action: .spam), Scripted(name: "three", action: .deny)])
            .run(request)
        #expect(result.decision.action == .spam)
        #expect(result.decidedBy == "two")
        #expect(result.trace.map(\.name) == ["one", "two"])
        #expect(result.trace.map(\.outcome) == ["continue", "spam"])
    }

    @Test func theVerdictAccumulatesAndGoesIntoTheReply() async {
        let result = await Pipeline([Scripted(name: "one", points: 2.5), Scripted(name: "two", points: 1)]).run(request)
        #expect(result.decision.action == .pass)
        #expect(result.decidedBy == nil)
        let reply = result.reply(id: request.id)
        #expect(reply.id == "Q1.0")
        #expect(reply.action == .pass)
        #expect(reply.score == 3.5)
        #expect(reply.tags == ["one", "two"])
        #expect(reply.addHeaders?.map(\.value) == ["one", "two"])
        #expect(reply.processors?.count == 2)
    }

    @Test func aDecisionsReasonReachesTheReply() async {
        let reply = await Pipeline([Scripted(name: "one", action: .quarantine)]).run(request).reply(id: "r")
        #expect(reply.reason == "one said so")
        #expect(reply.action == .quarantine)
    }

    @Test func anErrorWithOnErrorContinueIsTracedAndSkipped() async {
        let result = await Pipeline([Throwing(), Scripted(name: "after")]).run(request)
        #expect(result.decision.action == .pass)
        #expect(result.trace.map(\.outcome) == ["error", "continue"])
        #expect(result.failures == ["throwing: daemon refused the connection"])
        #expect(result.verdict.tags == ["after"])
    }

    @Test func anErrorWithOnErrorActionDecidesThatAction() async {
        let pipeline = Pipeline(steps: [PipelineStep(Throwing(), onError: .decide(.pending)), PipelineStep(Scripted(name: "never"))])
        let result = await pipeline.run(request)
        #expect(result.decision.action == .pending)
        #expect(result.decision.reason == "throwing: daemon refused the connection")
        #expect(result.decidedBy == "throwing")
        #expect(result.trace.map(\.name) == ["throwing"])
    }

    @Test func aProcessorPastItsTimeoutIsCancelledAndNotWaitedFor() async throws {
        let finished = Flag()
        let pipeline = Pipeline(steps: [
            PipelineStep(Hanging(finished: finished), timeout: .milliseconds(100), onError: .continue),
            PipelineStep(Scripted(name: "after")),
        ])
        let result = await pipeline.run(request)
        #expect(result.trace.map(\.outcome) == ["timeout", "continue"])
        #expect(result.failures.first?.hasPrefix("hanging: no answer within 0.1 s") == true)
        // The timed-out task was cancelled: it notices and ends on its own.
        while !finished.isSet.load(ordering: .sequentiallyConsistent) { try await Task.sleep(for: .milliseconds(10)) }
    }
}
