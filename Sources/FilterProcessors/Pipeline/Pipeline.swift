import FilterCore
import Synchronization

/// What a pipeline step does when its processor throws or runs past its timeout.
public enum ProcessorErrorPolicy: Sendable, Hashable {
    /// Record the error in the trace and let the next processor look (the default).
    case `continue`
    /// End the pipeline with this action.
    case decide(FilterAction)
}

/// One processor of a pipeline with the limits it runs under.
public struct PipelineStep: Sendable {
    /// The processor.
    public var processor: any Processor
    /// How long the processor may take; default 30 seconds.
    public var timeout: Duration
    /// What an error or a timeout means.
    public var onError: ProcessorErrorPolicy

    /// Creates a step.
    public init(_ processor: any Processor, timeout: Duration = .seconds(30), onError: ProcessorErrorPolicy = .continue) {
        self.processor = processor
        self.timeout = timeout
        self.onError = onError
    }
}

/// The result of running a pipeline for one request.
public struct PipelineResult: Sendable, Hashable {
    /// The decision; `pass` when no processor decided.
    public var decision: Decision
    /// Everything the processors added on the way.
    public var verdict: Verdict
    /// The processor that decided, `nil` when none did.
    public var decidedBy: String?
    /// What each processor that ran did, in order.
    public var trace: [FilterReply.ProcessorTrace]
    /// Each processor error or timeout, said for a log: `name: what went wrong`.
    public var failures: [String]

    /// The wire reply to request `id`.
    public func reply(id: String) -> FilterReply {
        FilterReply(
            id: id, action: decision.action, reason: decision.reason ?? decidedBy.map { "decided by \($0)" },
            forward: decision.forward, addHeaders: verdict.addHeaders.isEmpty ? nil : verdict.addHeaders,
            subjectTag: verdict.subjectTag, score: verdict.score, tags: verdict.tags.isEmpty ? nil : verdict.tags,
            retryAfter: decision.retryAfter, processors: trace)
    }
}

/// Runs processors in order. The first decision ends the run; no decision means `pass`. Each
/// processor runs under its step's timeout, and an error or a timeout is handled by the step's
/// ``ProcessorErrorPolicy``, so running a pipeline never fails.
public struct Pipeline: Sendable {
    /// The steps, in order.
    public var steps: [PipelineStep]

    /// Creates a pipeline of steps.
    public init(steps: [PipelineStep]) {
        self.steps = steps
    }

    /// Creates a pipeline of processors with the default timeout and error policy.
    public init(_ processors: [any Processor]) {
        self.init(steps: processors.map { PipelineStep($0) })
    }

    /// Runs the pipeline for `request`.
    public func run(_ request: ProcessorRequest) async -> PipelineResult {
        var verdict = Verdict()
        var trace: [FilterReply.ProcessorTrace] = []
        var failures: [String] = []
        for step in steps {
            let name = step.processor.name
            let started = ContinuousClock.now
            let outcome = await Self.withTimeout(step.timeout) { [verdict] in
                try await step.processor.process(request, verdict: verdict)
            }
            let ms = Int((ContinuousClock.now - started).wholeMilliseconds)
            switch outcome {
            case .finished(let result):
                verdict = result.verdict
                if let decision = result.decision {
                    trace.append(.init(name: name, outcome: decision.action.rawValue, ms: ms))
                    return PipelineResult(decision: decision, verdict: verdict, decidedBy: name, trace: trace, failures: failures)
                }
                trace.append(.init(name: name, outcome: "continue", ms: ms))
            case .failed(let failure):
                trace.append(.init(name: name, outcome: failure.traceOutcome, ms: ms))
                failures.append("\(name): \(failure)")
                if case .decide(let action) = step.onError {
                    let decision = Decision(action, reason: "\(name): \(failure)")
                    return PipelineResult(decision: decision, verdict: verdict, decidedBy: name, trace: trace, failures: failures)
                }
            }
        }
        return PipelineResult(decision: Decision(.pass), verdict: verdict, decidedBy: nil, trace: trace, failures: failures)
    }

    /// How one processor's run ended.
    enum StepOutcome {
        case finished(ProcessorOutcome)
        case failed(StepFailure)
    }

    /// Why a processor produced no outcome.
    enum StepFailure: CustomStringConvertible {
        case error(any Error)
        case timedOut(Duration)

        var traceOutcome: String {
            switch self {
            case .error: "error"
            case .timedOut: "timeout"
            }
        }

        var description: String {
            switch self {
            case .error(let error): "\(error)"
            case .timedOut(let limit): "no answer within \(limit.timeInterval) s"
            }
        }
    }

    /// Runs `body` in a task of its own and returns its outcome, or `.timedOut` after `limit`
    /// without waiting for it: the task is cancelled and left to end on its own, so a
    /// processor blocked in a call that ignores cancellation cannot hold the pipeline.
    static func withTimeout(_ limit: Duration, _ body: @escaping @Sendable () async throws -> ProcessorOutcome) async -> StepOutcome {
        let first = Mutex<CheckedContinuation<StepOutcome, Never>?>(nil)
        let resumeOnce: @Sendable (StepOutcome) -> Void = { outcome in
            first.withLock { continuation in
                continuation?.resume(returning: outcome)
                continuation = nil
            }
        }
        var work: Task<Void, Never>?
        var timer: Task<Void, Never>?
        let outcome = await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                first.withLock { $0 = continuation }
                work = Task {
                    do {
                        resumeOnce(.finished(try await body()))
                    } catch {
                        resumeOnce(.failed(.error(error)))
                    }
                }
                timer = Task {
                    try? await Task.sleep(for: limit)
                    resumeOnce(.failed(.timedOut(limit)))
                }
            }
        } onCancel: {
            resumeOnce(.failed(.error(CancellationError())))
        }
        work?.cancel()
        timer?.cancel()
        return outcome
    }
}
