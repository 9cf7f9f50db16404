import ArgumentParser
import FilterCore
import FilterProcessors
import Foundation
import Synchronization

/// The client half of issue 5's benchmark (docs/performance.md, "Client pipeline throughput"),
/// run by `scripts/bench-pipeline.sh`.
///
/// Loads a corpus of `.eml` files into memory and a pipeline from a JSON file shaped like the
/// client's configuration (`{"pipeline": [...]}`), then runs `requests` requests per phase
/// through `Pipeline.run` with `concurrency` requests in flight (as `FilterClient` does with its
/// prefetch), each request building its `ProcessorRequest` (and so its MIME header view) as the
/// client does. A ``MIMEParseProcessor`` step after the sender list builds the part tree and
/// bodies, so that their cost shows apart from the rules'. Phases, in one process and one run:
///
/// 1. **parse**: the parse step alone: the baseline;
/// 2. **local**: the pipeline without its `webhook` steps;
/// 3. **full**: the whole pipeline;
/// 4. **raw POST**: ``RawPoster`` posting a body of the summary's shape to `receiver`: the
///    webhook's baseline;
/// 5. **webhook**: the `webhook` steps alone, right after their baseline.
///
/// Prints messages/s and CPU per message for each phase, their ratios, and each processor's
/// p50/p99 measured with `ContinuousClock` around it (``TimedProcessor``) next to the trace's
/// whole milliseconds.
@main
struct PipelineBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pipeline-bench",
        abstract: "Run a corpus through a client pipeline and print the rates (a benchmark, not a test)."
    )

    @Argument(help: "A directory of .eml files.")
    var corpus: String

    @Option(help: "A JSON file {\"pipeline\": [...]} with entries as in the client's configuration file.")
    var config: String

    @Option(help: "A file of envelope senders, one a line (<> for the null sender), used in turn.")
    var senders: String

    @Option(help: "The URL the raw POST baseline posts to: the webhook's receiver.")
    var receiver: String

    @Option(help: "Requests per phase.")
    var requests = 3000

    @Option(help: "Requests in flight at once (the client's prefetch).")
    var concurrency = 8

    @Option(help: "Untimed requests through the full pipeline before the phases.")
    var warmup = 300

    func run() async throws {
        guard requests >= 1, concurrency >= 1, warmup >= 0 else {
            throw ValidationError("--requests and --concurrency must be at least 1, --warmup at least 0")
        }
        guard let receiverURL = URL(string: receiver) else { throw ValidationError("--receiver: \(receiver) is not a URL") }
        let inputs = try loadInputs()
        let configured = try JSONDecoder().decode(BenchConfiguration.self, from: Data(contentsOf: URL(fileURLWithPath: config))).pipeline.steps
        let parse = PipelineStep(MIMEParseProcessor())
        let full = Pipeline(steps: configured.prefix(while: { $0.processor is SenderList }) + [parse] + configured.drop(while: { $0.processor is SenderList }))
        let local = Pipeline(steps: full.steps.filter { !($0.processor is Webhook) })
        let poster = RawPoster(url: receiverURL, timeout: 8)
        let averageBytes = inputs.reduce(0) { $0 + $1.bytes.count } / inputs.count
        print("inputs: \(inputs.count) (message, sender) pairs, \(averageBytes) bytes per message on average; \(requests) requests per phase, \(concurrency) in flight")
        print("pipeline: \(full.steps.map(\.processor.name).joined(separator: " → "))")

        _ = await runPhase("warm-up", full.timed, inputs: inputs, count: warmup)
        let parsed = await runPhase("parse", Pipeline(steps: [parse]).timed, inputs: inputs, count: requests)
        let localResult = await runPhase("local", local.timed, inputs: inputs, count: requests)
        let fullResult = await runPhase("full", full.timed, inputs: inputs, count: requests)
        let raw = try await runPosts(poster, inputs: inputs, count: requests)
        let webhookOnly = await runPhase("webhook", Pipeline(steps: full.steps.filter { $0.processor is Webhook }).timed, inputs: inputs, count: requests)

        print("")
        print("phase       msg/s   CPU ms/msg  e2e p50 µs  e2e p99 µs  ratio            decisions")
        for (result, baseline) in [(parsed, parsed), (localResult, parsed), (fullResult, parsed), (raw, raw), (webhookOnly, raw)] {
            print(
                pad(result.name, 10), pad(fixed(result.rate, 1), 7, right: true), pad(fixed(result.cpuPerMessage * 1000, 3), 12, right: true),
                pad(fixed(result.endToEnd.percentile(0.5), 1), 11, right: true), pad(fixed(result.endToEnd.percentile(0.99), 1), 11, right: true),
                "  " + pad("\(fixed(result.rate / baseline.rate, 3)) × \(baseline.name)", 16), result.decisionSummary)
        }
        print("")
        print("processor (phase)       ran    p50 µs    p99 µs   mean µs  trace ms p50/p99")
        for result in [parsed, localResult, fullResult, webhookOnly] {
            for name in result.stepOrder {
                let samples = result.steps[name] ?? Samples()
                let trace = result.traceMilliseconds[name] ?? Samples()
                print(
                    pad("\(name) (\(result.name))", 20), pad("\(samples.count)", 7, right: true),
                    pad(fixed(samples.percentile(0.5), 1), 9, right: true), pad(fixed(samples.percentile(0.99), 1), 9, right: true),
                    pad(fixed(samples.mean, 1), 9, right: true),
                    "  \(fixed(trace.percentile(0.5) / 1000, 0))/\(fixed(trace.percentile(0.99) / 1000, 0))")
            }
            print(
                pad("machinery (\(result.name))", 20), pad("\(result.machinery.count)", 7, right: true),
                pad(fixed(result.machinery.percentile(0.5), 1), 9, right: true), pad(fixed(result.machinery.percentile(0.99), 1), 9, right: true),
                pad(fixed(result.machinery.mean, 1), 9, right: true), "  (end to end minus the processors)")
        }
        if let name = webhookOnly.stepOrder.first, let webhook = webhookOnly.steps[name], webhook.count > 0 {
            let p50 = webhook.percentile(0.5), p99 = webhook.percentile(0.99)
            let rawP50 = raw.endToEnd.percentile(0.5), rawP99 = raw.endToEnd.percentile(0.99)
            print("")
            print("webhook step (webhook phase) vs raw POST: p50 \(fixed(p50, 1)) / \(fixed(rawP50, 1)) µs = \(fixed(p50 / rawP50, 2))x, "
                + "p99 \(fixed(p99, 1)) / \(fixed(rawP99, 1)) µs = \(fixed(p99 / rawP99, 2))x")
        }
        for result in [parsed, localResult, fullResult, webhookOnly] where !result.failures.isEmpty {
            print("\(result.name): \(result.failureCount) processor failures, first: \(result.failures[0])")
        }
    }

    /// The corpus in memory, paired with the senders: as many pairs as the longer of the two
    /// lists, the shorter one repeated.
    private func loadInputs() throws -> [BenchInput] {
        let directory = URL(fileURLWithPath: corpus)
        let names = try FileManager.default.contentsOfDirectory(atPath: corpus).filter { $0.hasSuffix(".eml") }.sorted()
        let senderList = try String(contentsOfFile: senders, encoding: .utf8)
            .split(whereSeparator: \.isNewline).map { $0 == "<>" ? "" : String($0) }
        guard !names.isEmpty, !senderList.isEmpty else {
            throw ValidationError("need at least one .eml file in \(corpus) and one sender in \(senders)")
        }
        let messages = try names.map { Array(try Data(contentsOf: directory.appendingPathComponent($0))) }
        let count = max(messages.count, senderList.count)
        return (0..<count).map { index in
            BenchInput(bytes: messages[index % messages.count], sender: senderList[index % senderList.count])
        }
    }

    /// Runs `count` requests through `pipeline`, `concurrency` at a time.
    private func runPhase(_ name: String, _ pipeline: Pipeline, inputs: [BenchInput], count: Int) async -> PhaseResult {
        let next = Counter()
        let cpuBefore = processCPUSeconds()
        let started = ContinuousClock.now
        var result = await withTaskGroup(of: PhaseResult.self) { group in
            for _ in 0..<concurrency {
                group.addTask {
                    var samples = PhaseResult(name: name)
                    while case let index = next.take(), index < count {
                        let input = inputs[index % inputs.count]
                        let times = StepTimes()
                        let began = ContinuousClock.now
                        let outcome = await StepTimes.$current.withValue(times) {
                            await pipeline.run(ProcessorRequest(metadata: input.metadata(id: "\(name)-\(index)"), rawMessage: input.bytes))
                        }
                        samples.add(outcome, elapsed: (ContinuousClock.now - began).nanoseconds, steps: times.recorded)
                    }
                    return samples
                }
            }
            var all = PhaseResult(name: name)
            for await part in group { all.merge(part) }
            return all
        }
        result.finish(seconds: (ContinuousClock.now - started).seconds, cpu: processCPUSeconds() - cpuBefore, count: count)
        result.stepOrder = pipeline.steps.map(\.processor.name)
        return result
    }

    /// Posts `count` summary-sized bodies with ``RawPoster``, `concurrency` at a time.
    private func runPosts(_ poster: RawPoster, inputs: [BenchInput], count: Int) async throws -> PhaseResult {
        let bodies = try inputs.map { input throws(WireProtocolError) in try input.summaryLikeBody() }
        let next = Counter()
        let cpuBefore = processCPUSeconds()
        let started = ContinuousClock.now
        var result = try await withThrowingTaskGroup(of: PhaseResult.self) { group in
            for _ in 0..<concurrency {
                group.addTask {
                    var samples = PhaseResult(name: "raw POST")
                    while case let index = next.take(), index < count {
                        let began = ContinuousClock.now
                        try await poster.post(bodies[index % bodies.count], idempotencyKey: "raw-\(index)")
                        samples.endToEnd.add((ContinuousClock.now - began).nanoseconds)
                    }
                    return samples
                }
            }
            var all = PhaseResult(name: "raw POST")
            for try await part in group { all.merge(part) }
            return all
        }
        result.finish(seconds: (ContinuousClock.now - started).seconds, cpu: processCPUSeconds() - cpuBefore, count: count)
        return result
    }
}

/// The benchmark's configuration file: the `pipeline` key of the client's configuration.
struct BenchConfiguration: Decodable {
    /// The pipeline, decoded with the built-in processors.
    var pipeline: PipelineConfiguration
}

/// One message of the corpus with the envelope it is sent with.
struct BenchInput: Sendable {
    /// The raw message.
    let bytes: [UInt8]
    /// The envelope sender; empty for the null sender.
    let sender: String

    /// Request metadata as a server would send it for recipient `bob@example.net`.
    func metadata(id: String) -> FilterRequestMetadata {
        let now = Date()
        return FilterRequestMetadata(
            id: id, queueId: "4Xq7bench\(id.hashValue & 0xffff)", received: now, deadline: now.addingTimeInterval(300),
            envelope: .init(mailFrom: sender, recipient: "bob@example.net", owner: "bob@example.net", parameters: .init(body: "8BITMIME")),
            client: .init(name: "mx1.example.org", address: "192.0.2.1", helo: "mx1.example.org", protocol: "ESMTP"),
            size: bytes.count, truncated: false)
    }

    /// A JSON body of the shape and size of the webhook's summary: the request metadata, the
    /// raw Subject and From fields and an empty verdict.
    func summaryLikeBody() throws(WireProtocolError) -> [UInt8] {
        struct Body: Encodable {
            var request: FilterRequestMetadata
            var subject: String?
            var from: String?
            var verdict: [String: [String]]
        }
        let headers = MIMEMessage(bytes: bytes).headers
        return try WireJSON.encode(Body(request: metadata(id: "raw"), subject: headers["Subject"], from: headers["From"], verdict: ["tags": []]))
    }
}

/// What one phase measured.
struct PhaseResult: Sendable {
    /// The phase's name.
    var name: String
    /// Each request's time from building the request to the pipeline's result.
    var endToEnd = Samples()
    /// Each processor's time, by name.
    var steps: [String: Samples] = [:]
    /// Each processor's trace milliseconds, by name, stored as nanoseconds.
    var traceMilliseconds: [String: Samples] = [:]
    /// Each request's end-to-end time minus its processors' own time.
    var machinery = Samples()
    /// How many requests ended with each action.
    var decisions: [String: Int] = [:]
    /// The first few processor failures, said for a log.
    var failures: [String] = []
    /// How many processor failures there were.
    var failureCount = 0
    /// The processors' names in pipeline order.
    var stepOrder: [String] = []
    /// Requests per second of wall-clock time.
    var rate = 0.0
    /// This process's CPU seconds per request.
    var cpuPerMessage = 0.0

    init(name: String) {
        self.name = name
    }

    mutating func add(_ result: PipelineResult, elapsed: Int64, steps recorded: [(name: String, nanoseconds: Int64)]) {
        endToEnd.add(elapsed)
        for (name, nanoseconds) in recorded { steps[name, default: Samples()].add(nanoseconds) }
        for entry in result.trace { traceMilliseconds[entry.name, default: Samples()].add(Int64(entry.ms) * 1_000_000) }
        machinery.add(elapsed - recorded.reduce(0) { $0 + $1.nanoseconds })
        decisions[result.decision.action.rawValue, default: 0] += 1
        failureCount += result.failures.count
        if failures.count < 3 { failures += result.failures.prefix(3 - failures.count) }
    }

    mutating func merge(_ other: PhaseResult) {
        endToEnd.merge(other.endToEnd)
        steps.merge(other.steps) { $0.merging($1) }
        traceMilliseconds.merge(other.traceMilliseconds) { $0.merging($1) }
        machinery.merge(other.machinery)
        decisions.merge(other.decisions, uniquingKeysWith: +)
        failureCount += other.failureCount
        failures += other.failures.prefix(max(0, 3 - failures.count))
    }

    mutating func finish(seconds: Double, cpu: Double, count: Int) {
        rate = Double(count) / seconds
        cpuPerMessage = cpu / Double(count)
    }

    /// `action count` pairs, most frequent first.
    var decisionSummary: String {
        decisions.sorted { $0.value > $1.value }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
    }
}

extension Samples {
    /// These samples and `other`'s.
    func merging(_ other: Samples) -> Samples {
        var merged = self
        merged.merge(other)
        return merged
    }
}

/// Hands out request indexes to the workers.
final class Counter: Sendable {
    private let value = Atomic<Int>(0)

    /// The next index.
    func take() -> Int {
        value.add(1, ordering: .relaxed).oldValue
    }
}

extension Duration {
    /// The duration in seconds.
    var seconds: Double {
        Double(components.seconds) + Double(components.attoseconds) / 1e18
    }
}

/// `value` with `digits` decimals.
func fixed(_ value: Double, _ digits: Int) -> String {
    String(format: "%.\(digits)f", value)
}

/// `text` padded with spaces to `width` columns.
func pad(_ text: String, _ width: Int, right: Bool = false) -> String {
    let fill = String(repeating: " ", count: max(0, width - text.count))
    return right ? fill + text : text + fill
}
