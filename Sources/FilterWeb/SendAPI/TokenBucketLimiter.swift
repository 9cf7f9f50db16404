import FilterCore

/// A token bucket per key: each key may make `burst` requests at once, refilled at `perMinute`
/// requests a minute. A value type with the clock given to each call, so tests replay time.
public struct TokenBucketLimiter: Sendable {
    /// What a request may do.
    public enum Decision: Sendable, Hashable {
        /// Go ahead; one token was taken.
        case allowed
        /// Wait this long for the next token.
        case limited(retryAfter: Duration)
    }

    private struct Bucket {
        var tokens: Double
        var updated: ContinuousClock.Instant
    }

    /// Tokens added per second.
    private let rate: Double
    /// The bucket's size.
    private let capacity: Double
    private var buckets: [String: Bucket] = [:]
    /// Buckets kept before full ones are forgotten (a full bucket is the same as none).
    private let pruneThreshold = 10_000

    /// Creates a limiter: `perMinute` requests a minute (at least 1), `burst` at once (at least 1).
    public init(perMinute: Int, burst: Int) {
        rate = Double(max(perMinute, 1)) / 60
        capacity = Double(max(burst, 1))
    }

    /// Takes a token from `key`'s bucket at `now`, or says how long until one is there.
    public mutating func acquire(_ key: String, at now: ContinuousClock.Instant) -> Decision {
        if buckets.count > pruneThreshold { prune(at: now) }
        var bucket = buckets[key] ?? Bucket(tokens: capacity, updated: now)
        bucket.tokens = min(capacity, bucket.tokens + rate * max(0, (now - bucket.updated).timeInterval))
        bucket.updated = now
        defer { buckets[key] = bucket }
        guard bucket.tokens >= 1 else {
            return .limited(retryAfter: .milliseconds(Int64(((1 - bucket.tokens) / rate * 1000).rounded(.up))))
        }
        bucket.tokens -= 1
        return .allowed
    }

    private mutating func prune(at now: ContinuousClock.Instant) {
        buckets = buckets.filter { $0.value.tokens + rate * max(0, (now - $0.value.updated).timeInterval) < capacity }
    }
}
