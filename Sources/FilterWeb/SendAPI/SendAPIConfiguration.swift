import FilterCore
import FilterSMTP
import NIOCore

/// The configuration of the HTTP send API (`POST /api/v1/messages`).
///
/// Defaults are chosen for a send API on the mail host itself: submission to the local Postfix's
/// public smtpd, so that composed mail goes through the content filter like any other mail.
public struct SendAPIConfiguration: Sendable {
    /// How many requests one key (or one JWT subject) may make.
    public struct RateLimit: Sendable, Hashable {
        /// Requests per minute, the bucket's refill rate. Default 60.
        public var perMinute: Int
        /// Requests allowed at once after a quiet period, the bucket's size. Default 20.
        public var burst: Int

        /// Creates a rate limit.
        public init(perMinute: Int = 60, burst: Int = 20) {
            self.perMinute = perMinute
            self.burst = burst
        }
    }

    /// The API keys file (one line per key: name, SHA-256 of the key in hex, owner, allowed
    /// `From` addresses; see docs/send-api.md); `nil` accepts no API keys. Default `nil`.
    public var keysFile: String?
    /// The file holding the HS256 secret for JWTs (its bytes, a final line break removed);
    /// `nil` accepts no JWTs. Default `nil`.
    public var jwtSecretFile: String?
    /// How far clocks may disagree when `exp`, `nbf` and `iat` are checked. Default 60 s.
    public var clockSkew: Duration
    /// The submission next hop and the SMTP client's limits. Defaults: `127.0.0.1:25` (the
    /// local Postfix's public smtpd, so composed mail is filtered like any other), connect
    /// timeout 10 s, replies 60 s, final dot 120 s (an HTTP caller is waiting), no idle
    /// connections kept.
    public var submission: SMTPClientConfiguration
    /// The domain of generated `Message-ID`s. Default: the host name given to `init`.
    public var messageIDDomain: String
    /// The largest request body accepted, in octets. Default 10 MiB (10,485,760): base64
    /// attachments in JSON and again in MIME make that about Postfix's default
    /// `message_size_limit` of 10,240,000 octets.
    public var maximumBodyBytes: Int
    /// Requests per key. Default 60 per minute, bursts of 20.
    public var rateLimit: RateLimit
    /// Limits on the message itself (recipients, attachments, header fields).
    public var composer: MessageComposer.Limits

    /// Creates a configuration with the documented defaults.
    /// - Parameter hostname: this host's name: the `EHLO` name and the `Message-ID` domain.
    public init(hostname: String) {
        keysFile = nil
        jwtSecretFile = nil
        clockSkew = .seconds(60)
        var submission = SMTPClientConfiguration(heloName: hostname, host: "127.0.0.1", port: 25)
        submission.connectTimeout = .seconds(10)
        submission.commandTimeout = .seconds(60)
        submission.dataTerminationTimeout = .seconds(120)
        submission.maximumIdleConnections = 0
        self.submission = submission
        messageIDDomain = hostname
        maximumBodyBytes = 10 * 1024 * 1024
        rateLimit = RateLimit()
        composer = MessageComposer.Limits()
    }
}
