import Foundation
import Synchronization

/// A logged-in console session, as the server keeps it.
struct ConsoleSession: Sendable {
    /// Who logged in.
    var identity: WebIdentity
    /// The token every unsafe request of the session must carry.
    var csrfToken: String
    /// When the login happened (for the absolute lifetime).
    var created: ContinuousClock.Instant
    /// When the last request came (for the idle timeout).
    var lastSeen: ContinuousClock.Instant
}

/// The console's sessions, in memory: they end with the process, which only logs everyone out.
final class ConsoleSessionStore: Sendable {
    private let sessions = Mutex<[String: ConsoleSession]>([:])
    private let idleTimeout: Duration
    private let absoluteLifetime: Duration

    init(idleTimeout: Duration, absoluteLifetime: Duration) {
        self.idleTimeout = idleTimeout
        self.absoluteLifetime = absoluteLifetime
    }

    /// Starts a session for `identity` under a fresh id (never one a client chose), forgetting
    /// the expired ones.
    /// - Returns: The session id.
    func create(for identity: WebIdentity, now: ContinuousClock.Instant) -> String {
        let id = RandomToken.make()
        let session = ConsoleSession(identity: identity, csrfToken: RandomToken.make(), created: now, lastSeen: now)
        sessions.withLock { sessions in
            sessions = sessions.filter { isLive($0.value, now: now) }
            sessions[id] = session
        }
        return id
    }

    /// The live session with `id`, its idle timer restarted; an expired one is removed.
    func session(_ id: String, now: ContinuousClock.Instant) -> ConsoleSession? {
        sessions.withLock { sessions in
            guard var session = sessions[id] else { return nil }
            guard isLive(session, now: now) else {
                sessions[id] = nil
                return nil
            }
            session.lastSeen = now
            sessions[id] = session
            return session
        }
    }

    /// Whether the session `id` exists and has not expired; unlike ``session(_:now:)`` this
    /// does not count as activity.
    func isLive(_ id: String, now: ContinuousClock.Instant) -> Bool {
        sessions.withLock { sessions in sessions[id].map { isLive($0, now: now) } ?? false }
    }

    /// Ends a session.
    func remove(_ id: String) {
        _ = sessions.withLock { $0.removeValue(forKey: id) }
    }

    private func isLive(_ session: ConsoleSession, now: ContinuousClock.Instant) -> Bool {
        now - session.lastSeen < idleTimeout && now - session.created < absoluteLifetime
    }
}

/// Failed logins per client address and per user name in a sliding window.
final class LoginRateLimiter: Sendable {
    private let failures = Mutex<[String: [ContinuousClock.Instant]]>([:])
    private let limit: ConsoleAuthConfiguration.RateLimit

    init(limit: ConsoleAuthConfiguration.RateLimit) {
        self.limit = limit
    }

    /// Admits a login attempt of `user` from `address`, or says how long until it may try.
    ///
    /// An admitted attempt is counted as a failure at once, in the same critical section as the
    /// check, so parallel attempts cannot all slip under the limit while the credentials are
    /// being checked; ``retract(address:user:at:)`` takes it back when it did not fail.
    /// - Returns: `nil` when admitted; else the wait until the oldest counted failure leaves
    ///   the window.
    func admit(address: String, user: String, now: ContinuousClock.Instant) -> Duration? {
        failures.withLock { failures in
            let waits = [
                wait(failures[Self.addressKey(address)] ?? [], allowed: limit.failuresPerAddress, now: now),
                wait(failures[Self.userKey(user)] ?? [], allowed: limit.failuresPerUser, now: now),
            ].compactMap { $0 }
            if let longest = waits.max() { return longest }
            for key in [Self.addressKey(address), Self.userKey(user)] {
                failures[key, default: []].removeAll { now - $0 >= limit.window }
                failures[key, default: []].append(now)
            }
            if failures.count > limit.maximumTrackedKeys { forgetOldest(&failures, now: now) }
            return nil
        }
    }

    /// Takes back the attempt admitted at `instant` (it succeeded, or could not be checked).
    func retract(address: String, user: String, at instant: ContinuousClock.Instant) {
        failures.withLock { failures in
            for key in [Self.addressKey(address), Self.userKey(user)] {
                if let index = failures[key]?.lastIndex(of: instant) { failures[key]?.remove(at: index) }
            }
        }
    }

    /// Forgets the failures of `user` (after a successful login).
    func clear(user: String) {
        _ = failures.withLock { $0.removeValue(forKey: Self.userKey(user)) }
    }

    private func wait(_ times: [ContinuousClock.Instant], allowed: Int, now: ContinuousClock.Instant) -> Duration? {
        let recent = times.filter { now - $0 < limit.window }
        guard allowed > 0, recent.count >= allowed else { return nil }
        // Failures are appended in time order: once the oldest `count - allowed + 1` leave the
        // window, fewer than `allowed` remain.
        return recent[recent.count - allowed] + limit.window - now
    }

    private func forgetOldest(_ failures: inout [String: [ContinuousClock.Instant]], now: ContinuousClock.Instant) {
        failures = failures.filter { _, times in times.contains { now - $0 < limit.window } }
        guard failures.count > limit.maximumTrackedKeys else { return }
        let newestFirst = failures.sorted { ($0.value.last ?? now) > ($1.value.last ?? now) }
        failures = Dictionary(uniqueKeysWithValues: newestFirst.prefix(limit.maximumTrackedKeys).map { ($0.key, $0.value) })
    }

    private static func addressKey(_ address: String) -> String { "address " + address }
    private static func userKey(_ user: String) -> String { "user " + user.lowercased() }
}

/// 256-bit random tokens from the system's CSPRNG, Base64url without padding (43 characters):
/// session ids, CSRF tokens, the login-form key.
enum RandomToken {
    /// `count` random bytes.
    static func bytes(_ count: Int = 32) -> [UInt8] {
        var generator = SystemRandomNumberGenerator()
        return (0..<count).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
    }

    /// A fresh token.
    static func make() -> String {
        base64URL(bytes())
    }

    /// `bytes` in Base64url without padding (RFC 4648 §5): safe in cookies, forms and headers.
    static func base64URL(_ bytes: [UInt8]) -> String {
        Data(bytes).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }
}
