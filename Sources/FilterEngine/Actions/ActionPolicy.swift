import FilterCore

/// How the server applies the actions owners decide (DESIGN.md, "Actions"): server-wide in
/// ``FilteringConfiguration/actions``, overridable per owner.
public struct ActionPolicy: Sendable, Hashable {
    /// What `deny` does; default ``DenyPolicy/discard`` (no backscatter).
    public var deny: DenyPolicy = .discard
    /// Whether the client's reason appears in DSNs (a `deny` bounce); default `false`: the DSN
    /// says only that the recipient's filter refused the message.
    public var discloseReason = false
    /// The subject tag for `spam` when the reply gives none; default none.
    public var spamSubjectTag: String?
    /// Where `spam` is delivered instead of the recipient; default: to the recipient.
    public var spamRedirect: SpamRedirect?
    /// Whether the recipient gets a notice when a message for them is quarantined as a virus;
    /// default `false`.
    public var virusNoticeToRecipient = false
    /// An administrator who gets a notice for every virus; default none.
    public var virusNoticeTo: String?
    /// Whether `forward` replaces the recipient or adds to it; default ``ForwardMode/redirect``.
    public var forwardMode: ForwardMode = .redirect
    /// Domains `forward` may deliver to; empty (the default) refuses every forward, so a client
    /// cannot make the server an open relay. `*.example.com` allows subdomains.
    public var forwardDomains: [String] = []
    /// A reply may forward to at most this many addresses; default 5.
    public var forwardMaximumAddresses = 5
    /// How long `pending` may hold a message before the fallback action applies; default 24 h.
    public var maximumHold: Duration = .seconds(24 * 3600)
    /// The wait before asking again when a `pending` reply gives no `retryAfter`; default 5 min.
    public var defaultRetryAfter: Duration = .seconds(300)
    /// A hold longer than this sends the sender one "delayed" DSN when the recipient's NOTIFY
    /// asks for delays (`NOTIFY=DELAY` given explicitly); default 4 h, Postfix's usual
    /// `delay_warning_time`.
    public var delayNoticeAfter: Duration = .seconds(4 * 3600)

    /// Creates the default policy.
    public init() {}

    /// What `deny` does.
    public enum DenyPolicy: String, Sendable, Hashable, CaseIterable {
        /// Drop the message for the recipient silently (logged and counted).
        case discard
        /// Return a DSN to the sender, within the DSN rules.
        case bounce
    }

    /// Whether `forward` replaces the recipient.
    public enum ForwardMode: String, Sendable, Hashable, CaseIterable {
        /// Deliver to the reply's addresses instead of the recipient.
        case redirect
        /// Deliver to the recipient and to the reply's addresses.
        case copy
    }

    /// Where spam goes.
    public enum SpamRedirect: Sendable, Hashable {
        /// The recipient's address with this extension (`spam` makes `user+spam@domain`, with the
        /// server's first recipient delimiter).
        case `extension`(String)
        /// One address for every recipient of this policy, for example a spam folder's.
        case address(String)
    }

    /// Per-owner settings; `nil` keeps the server's.
    public struct Override: Sendable, Hashable {
        public var deny: DenyPolicy?
        public var discloseReason: Bool?
        public var spamSubjectTag: String?
        public var spamRedirect: SpamRedirect?
        public var virusNoticeToRecipient: Bool?
        public var virusNoticeTo: String?
        public var forwardMode: ForwardMode?
        public var forwardDomains: [String]?
        public var forwardMaximumAddresses: Int?
        public var maximumHold: Duration?

        /// An override that changes nothing.
        public init() {}
    }

    /// This policy with `override`'s settings in place of its own.
    public func applying(_ override: Override?) -> ActionPolicy {
        guard let override else { return self }
        var policy = self
        policy.deny = override.deny ?? deny
        policy.discloseReason = override.discloseReason ?? discloseReason
        policy.spamSubjectTag = override.spamSubjectTag ?? spamSubjectTag
        policy.spamRedirect = override.spamRedirect ?? spamRedirect
        policy.virusNoticeToRecipient = override.virusNoticeToRecipient ?? virusNoticeToRecipient
        policy.virusNoticeTo = override.virusNoticeTo ?? virusNoticeTo
        policy.forwardMode = override.forwardMode ?? forwardMode
        policy.forwardDomains = override.forwardDomains ?? forwardDomains
        policy.forwardMaximumAddresses = override.forwardMaximumAddresses ?? forwardMaximumAddresses
        policy.maximumHold = override.maximumHold ?? maximumHold
        return policy
    }

    /// Whether `forward` may deliver to `domain`.
    func allowsForward(toDomain domain: String) -> Bool {
        let domain = domain.lowercased()
        return forwardDomains.contains { allowed in
            let allowed = allowed.lowercased()
            if allowed.hasPrefix("*.") { return domain.hasSuffix(allowed.dropFirst()) }
            return domain == allowed
        }
    }
}
