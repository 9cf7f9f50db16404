import FilterWeb
import Testing

@Suite struct TokenBucketLimiterTests {
    @Test func aBurstThenTheRefillRate() {
        var limiter = TokenBucketLimiter(perMinute: 60, burst: 3)
        let start = ContinuousClock.now
        #expect(limiter.acquire("k", at: start) == .allowed)
        #expect(limiter.acquire("k", at: start) == .allowed)
        #expect(limiter.acquire("k", at: start) == .allowed)
        #expect(limiter.acquire("k", at: start) == .limited(retryAfter: .seconds(1)))
        #expect(limiter.acquire("k", at: start + .milliseconds(500)) == .limited(retryAfter: .milliseconds(500)))
        #expect(limiter.acquire("k", at: start + .seconds(1)) == .allowed)
        #expect(limiter.acquire("k", at: start + .seconds(1)) == .limited(retryAfter: .seconds(1)))
    }

    @Test func keysHaveTheirOwnBuckets() {
        var limiter = TokenBucketLimiter(perMinute: 1, burst: 1)
        let start = ContinuousClock.now
        #expect(limiter.acquire("a", at: start) == .allowed)
        #expect(limiter.acquire("a", at: start) == .limited(retryAfter: .seconds(60)))
        #expect(limiter.acquire("b", at: start) == .allowed)
    }

    @Test func aBucketNeverHoldsMoreThanTheBurst() {
        var limiter = TokenBucketLimiter(perMinute: 60, burst: 2)
        let start = ContinuousClock.now
        #expect(limiter.acquire("k", at: start) == .allowed)
        let later = start + .seconds(3600)
        #expect(limiter.acquire("k", at: later) == .allowed)
        #expect(limiter.acquire("k", at: later) == .allowed)
        #expect(limiter.acquire("k", at: later) != .allowed)
    }
}
