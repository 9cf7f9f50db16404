import FilterCore
import FilterProcessors

/// The login form's own CSRF protection, before any session exists: a double-submit token, in
/// a short-lived cookie and in the form's hidden `csrf_token` field, that must be equal.
///
/// The token is also signed (HMAC-SHA256 under a key made at start-up) and carries its expiry,
/// so a token someone planted as a cookie (from a sibling host, say) is worthless unless this
/// process issued it, and an old form stops working after ``ConsoleAuthConfiguration/loginFormLifetime``.
/// Form: `EXPIRY_MS.NONCE.MAC`, EXPIRY_MS in milliseconds after the process's reference instant.
struct LoginFormTokens: Sendable {
    private let key: [UInt8]
    private let reference: ContinuousClock.Instant
    private let lifetime: Duration

    init(lifetime: Duration, reference: ContinuousClock.Instant) {
        self.key = RandomToken.bytes()
        self.reference = reference
        self.lifetime = lifetime
    }

    /// A fresh token, valid for the lifetime from `now`.
    func make(now: ContinuousClock.Instant) -> String {
        let expiry = (now + lifetime - reference).wholeMilliseconds
        let payload = "\(expiry).\(RandomToken.make())"
        return payload + "." + mac(payload)
    }

    /// Whether `token` was issued here and has not expired.
    func isValid(_ token: String, now: ContinuousClock.Instant) -> Bool {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, let expiry = Int64(parts[0]) else { return false }
        let payload = parts[0] + "." + parts[1]
        guard ConstantTime.equal(mac(String(payload)), String(parts[2])) else { return false }
        return (now - reference).wholeMilliseconds < expiry
    }

    private func mac(_ payload: String) -> String {
        RandomToken.base64URL(Digest.hmacSHA256(Array(payload.utf8), key: key))
    }
}
