import FilterCore
import Synchronization

/// Holds mail once, greylist style: the first time it sees a request id it decides `pending`
/// with `retry_after` seconds; when the server asks again with the same id at least that long
/// after (one second of slack for timers), the request goes on down the pipeline, tagged
/// `delayed`. Asked again too early, it answers `pending` with the seconds left.
///
/// The ids it has seen are kept in memory, in this processor only: a client restart forgets
/// them (the mail is then held once more), and two clients of one owner keep separate lists.
/// An id is forgotten `forget_after` seconds after it was first seen, and when `max_entries`
/// ids are held the oldest is forgotten first.
public struct Delay: ConfigurableProcessor {
    public static let type = "delay"
    public static let optionKeys: Set<String> = ["retry_after", "senders", "forget_after", "max_entries"]

    /// The options of a `delay` entry.
    public struct Options: Decodable, Sendable {
        /// Seconds the server waits before asking again; default 300.
        public var retryAfter: Int?
        /// Only mail from these senders (entries as for `sender-list`); all mail when absent.
        public var senders: [String]?
        /// Seconds after which a seen id is forgotten; default 86400 (a day), at least `retry_after`.
        public var forgetAfter: Int?
        /// At most this many ids are remembered; default 100000.
        public var maxEntries: Int?

        enum CodingKeys: String, CodingKey {
            case retryAfter = "retry_after", senders, forgetAfter = "forget_after", maxEntries = "max_entries"
        }

        /// Creates options.
        public init(retryAfter: Int? = nil, senders: [String]? = nil, forgetAfter: Int? = nil, maxEntries: Int? = nil) {
            self.retryAfter = retryAfter
            self.senders = senders
            self.forgetAfter = forgetAfter
            self.maxEntries = maxEntries
        }
    }

    public let name: String
    private let retryAfter: Int
    private let senders: SenderPatterns?
    private let ledger: Ledger

    public init(name: String = type, options: Options) throws(ProcessorConfigurationError) {
        try self.init(name: name, options: options, now: { ContinuousClock.now })
    }

    /// Creates the processor with a clock of the caller's, for tests.
    init(name: String = type, options: Options, now: @escaping @Sendable () -> ContinuousClock.Instant) throws(ProcessorConfigurationError) {
        let retryAfter = options.retryAfter ?? 300
        guard retryAfter > 0 else { throw ProcessorConfigurationError("\(name).retry_after: must be a positive number of seconds") }
        let forgetAfter = options.forgetAfter ?? 86_400
        guard forgetAfter >= retryAfter else {
            throw ProcessorConfigurationError("\(name).forget_after: must be at least retry_after (\(retryAfter) s)")
        }
        let maxEntries = options.maxEntries ?? 100_000
        guard maxEntries > 0 else { throw ProcessorConfigurationError("\(name).max_entries: must be positive") }
        if let senders = options.senders, senders.isEmpty {
            throw ProcessorConfigurationError("\(name).senders: give at least one sender, or leave the option out for all mail")
        }
        self.name = name
        self.retryAfter = retryAfter
        senders = try options.senders.map { list throws(ProcessorConfigurationError) in try SenderPatterns(list, key: "\(name).senders") }
        ledger = Ledger(forgetAfter: .seconds(forgetAfter), capacity: maxEntries, now: now)
    }

    public func process(_ request: ProcessorRequest, verdict: Verdict) async throws -> ProcessorOutcome {
        if let senders, !senders.matches(request.envelope.mailFrom) {
            return .continue(verdict)
        }
        guard let waited = ledger.sinceFirstSeen(request.id) else {
            return .decide(Decision(.pending, reason: "delayed by \(name) for \(retryAfter) s", retryAfter: retryAfter), verdict: verdict)
        }
        // The server's timer and this client's clock may differ by a little; a second is ample.
        guard waited + .seconds(1) < .seconds(retryAfter) else {
            var verdict = verdict
            verdict.addTag("delayed")
            return .continue(verdict)
        }
        let remaining = retryAfter - Int(waited.components.seconds)
        return .decide(Decision(.pending, reason: "delayed by \(name), \(remaining) s left", retryAfter: remaining), verdict: verdict)
    }

    /// When each request id was first seen.
    final class Ledger: Sendable {
        private let seen = Mutex<[String: ContinuousClock.Instant]>([:])
        private let forgetAfter: Duration
        private let capacity: Int
        private let now: @Sendable () -> ContinuousClock.Instant

        init(forgetAfter: Duration, capacity: Int, now: @escaping @Sendable () -> ContinuousClock.Instant) {
            self.forgetAfter = forgetAfter
            self.capacity = capacity
            self.now = now
        }

        /// How long ago `id` was first seen; `nil` (and recorded now) when it is new.
        func sinceFirstSeen(_ id: String) -> Duration? {
            let now = now()
            return seen.withLock { seen in
                if let first = seen[id], now - first < forgetAfter {
                    return now - first
                }
                if seen.count >= capacity {
                    seen = seen.filter { now - $0.value < forgetAfter }
                    if seen.count >= capacity, let oldest = seen.min(by: { $0.value < $1.value }) {
                        seen[oldest.key] = nil
                    }
                }
                seen[id] = now
                return nil
            }
        }
    }
}
