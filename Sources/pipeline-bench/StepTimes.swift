import FilterCore
import FilterProcessors
import Synchronization

/// The time each processor of one request's pipeline run took, measured by ``TimedProcessor``
/// with `ContinuousClock` in nanoseconds: the trace's whole milliseconds are too coarse for
/// processors that take microseconds.
///
/// The worker running a request makes one and binds it to ``current``; the pipeline runs each
/// processor in a task of its own, which inherits the binding.
final class StepTimes: Sendable {
    /// The recorder of the request the current task works on.
    @TaskLocal static var current: StepTimes?

    private let entries = Mutex<[(name: String, nanoseconds: Int64)]>([])

    /// Adds the time `name` took.
    func record(_ name: String, nanoseconds: Int64) {
        entries.withLock { $0.append((name, nanoseconds)) }
    }

    /// What was recorded, in order.
    var recorded: [(name: String, nanoseconds: Int64)] {
        entries.withLock { $0 }
    }
}

/// Runs a processor and records how long it took into ``StepTimes/current``; it has the
/// processor's name, so traces and decisions are unchanged.
struct TimedProcessor: Processor {
    /// The processor measured.
    let inner: any Processor

    var name: String { inner.name }

    func process(_ request: ProcessorRequest, verdict: Verdict) async throws -> ProcessorOutcome {
        let began = ContinuousClock.now
        defer { StepTimes.current?.record(name, nanoseconds: (ContinuousClock.now - began).nanoseconds) }
        return try await inner.process(request, verdict: verdict)
    }
}

extension Pipeline {
    /// This pipeline with every processor wrapped in a ``TimedProcessor``.
    var timed: Pipeline {
        Pipeline(steps: steps.map { step in
            var step = step
            step.processor = TimedProcessor(inner: step.processor)
            return step
        })
    }
}

extension Duration {
    /// The duration in whole nanoseconds.
    var nanoseconds: Int64 {
        components.seconds * 1_000_000_000 + components.attoseconds / 1_000_000_000
    }
}

/// Builds the request's MIME part tree and decodes its text and HTML bodies, which the rules
/// processor would otherwise do on its first look at a body or an attachment: a step of its
/// own, the benchmark separates the parse from the rules, and alone it is the baseline phase.
struct MIMEParseProcessor: Processor {
    var name: String { "mime-parse" }

    func process(_ request: ProcessorRequest, verdict: Verdict) async throws -> ProcessorOutcome {
        let message = request.message
        _ = (message.textBody, message.htmlBody, message.attachments)
        return .continue(verdict)
    }
}
