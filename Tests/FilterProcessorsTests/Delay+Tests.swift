import FilterCore
import Synchronization
import Testing

@testable import FilterProcessors

@Suite struct DelayTests {
    /// A clock the test moves.
    final class TestClock: Sendable {
        private let start = ContinuousClock.now
        private let elapsed = Mutex<Duration>(.zero)

        func advance(_ duration: Duration) { elapsed.withLock { $0 += duration } }
        var now: @Sendable () -> ContinuousClock.Instant { { [self] in start + elapsed.withLock { $0 } } }
    }

    @Test func firstPendingThenPass() async throws {
        let clock = TestClock()
        let delay = try Delay(options: .init(retryAfter: 300), now: clock.now)
        let first = try await delay.process(.fixture(id: "Q1.0"), verdict: Verdict())
        #expect(first.decision == Decision(.pending, reason: "delayed by delay for 300 s", retryAfter: 300))
        clock.advance(.seconds(100))
        let early = try await delay.process(.fixture(id: "Q1.0"), verdict: Verdict())
        #expect(early.decision == Decision(.pending, reason: "delayed by delay, 200 s left", retryAfter: 200))
        clock.advance(.seconds(199))
        let later = try await delay.process(.fixture(id: "Q1.0"), verdict: Verdict())
        #expect(later == .continue(Verdict(tags: ["delayed"])))
        #expect(try await delay.process(.fixture(id: "Q1.0"), verdict: Verdict()).decision == nil)
        #expect(try await delay.process(.fixture(id: "Q2.0"), verdict: Verdict()).decision?.action == .pending)
    }

    @Test func onlyMatchingSendersAreDelayed() async throws {
        let delay = try Delay(options: .init(senders: ["@new.example"]))
        #expect(try await delay.process(.fixture(from: "a@new.example"), verdict: Verdict()).decision?.action == .pending)
        #expect(try await delay.process(.fixture(from: "a@old.example"), verdict: Verdict()) == .continue(Verdict()))
    }

    @Test func idsAreForgottenAfterForgetAfter() async throws {
        let clock = TestClock()
        let delay = try Delay(options: .init(retryAfter: 10, forgetAfter: 60), now: clock.now)
        _ = try await delay.process(.fixture(id: "Q1.0"), verdict: Verdict())
        clock.advance(.seconds(61))
        #expect(try await delay.process(.fixture(id: "Q1.0"), verdict: Verdict()).decision?.retryAfter == 10)
    }

    @Test func theOldestIdIsForgottenWhenFull() async throws {
        let clock = TestClock()
        let delay = try Delay(options: .init(retryAfter: 10, maxEntries: 2), now: clock.now)
        for id in ["A", "B", "C"] {
            _ = try await delay.process(.fixture(id: id), verdict: Verdict())
            clock.advance(.seconds(1))
        }
        clock.advance(.seconds(20))
        #expect(try await delay.process(.fixture(id: "C"), verdict: Verdict()).decision == nil)
        #expect(try await delay.process(.fixture(id: "A"), verdict: Verdict()).decision?.action == .pending)
    }

    @Test(arguments: [
        (Delay.Options(retryAfter: 0), "delay.retry_after: must be a positive number of seconds"),
        (Delay.Options(retryAfter: 600, forgetAfter: 300), "delay.forget_after: must be at least retry_after (600 s)"),
        (Delay.Options(maxEntries: 0), "delay.max_entries: must be positive"),
        (Delay.Options(senders: ["user@"]), "delay.senders: \"user@\" is not an address, @domain, domain, *.domain, .domain, /regex/ or <>"),
    ])
    func badOptionsAreNamed(options: Delay.Options, expected: String) {
        #expect(performing: { try Delay(options: options) }, throws: { ($0 as? ProcessorConfigurationError)?.description == expected })
    }
}
