import FilterCore

/// How the server asks owners for decisions over a ``FilterTransport`` (DESIGN.md, flow steps 3
/// to 5). Without a transport configured, every recipient gets ``defaultAction`` at once.
public struct FilteringConfiguration: Sendable, Hashable {
    /// This server's id: its reply queue is `mailfilter.server.<serverID>` and requests carry it
    /// as `reply_to`. Several servers sharing one broker need different ids.
    public var serverID: String
    /// How a recipient address becomes its owner (lowercase, extension, aliases).
    public var owners: OwnerResolver
    /// How long to wait for an owner's reply before applying ``fallbackAction``; default 60 s.
    public var deadline: Duration
    /// The action for an owner who has not subscribed (no queue); default `pass`.
    public var defaultAction: FilterAction
    /// The action when no valid reply arrives in time, the broker refuses the request or is
    /// unreachable; default `pass`.
    public var fallbackAction: FilterAction
    /// What to do for an owner whose queue has no consumer; default ``OfflinePolicy/fallback``.
    public var offlinePolicy: OfflinePolicy
    /// Settings that differ per owner, by canonical owner address.
    public var ownerPolicies: [String: OwnerPolicy]
    /// How long a subscription check is reused; default 5 s.
    public var subscriptionCacheTime: Duration
    /// Requests carry at most this many octets of the message (the rest is cut and the request
    /// says `truncated`); default 10 MiB.
    public var maximumRequestBytes: Int
    /// How decided actions are applied, server-wide; owners may override it.
    public var actions: ActionPolicy
    /// Which header fields replies may add, and the limits on them.
    public var headerFields: HeaderFieldPolicy

    /// Creates a configuration with the defaults above.
    public init(serverID: String, owners: OwnerResolver = OwnerResolver()) {
        self.serverID = serverID
        self.owners = owners
        self.deadline = .seconds(60)
        self.defaultAction = .pass
        self.fallbackAction = .pass
        self.offlinePolicy = .fallback
        self.ownerPolicies = [:]
        self.subscriptionCacheTime = .seconds(5)
        self.maximumRequestBytes = 10 * 1024 * 1024
        self.actions = ActionPolicy()
        self.headerFields = HeaderFieldPolicy()
    }

    /// What happens to mail for an owner whose queue exists but has no client consuming it.
    public enum OfflinePolicy: String, Sendable, Hashable, Codable {
        /// Apply the fallback action at once, so an absent client does not delay mail.
        case fallback
        /// Publish anyway and wait for a client until the deadline.
        case wait
    }

    /// Per-owner settings; `nil` fields take the server's value.
    public struct OwnerPolicy: Sendable, Hashable {
        /// The owner's deadline.
        public var deadline: Duration?
        /// The owner's offline policy.
        public var offlinePolicy: OfflinePolicy?
        /// The owner's default action (while not subscribed).
        public var defaultAction: FilterAction?
        /// The owner's fallback action.
        public var fallbackAction: FilterAction?
        /// How the owner's actions are applied.
        public var actions: ActionPolicy.Override?

        /// Creates a policy.
        public init(
            deadline: Duration? = nil, offlinePolicy: OfflinePolicy? = nil, defaultAction: FilterAction? = nil,
            fallbackAction: FilterAction? = nil, actions: ActionPolicy.Override? = nil
        ) {
            self.deadline = deadline
            self.offlinePolicy = offlinePolicy
            self.defaultAction = defaultAction
            self.fallbackAction = fallbackAction
            self.actions = actions
        }
    }

    /// The deadline for `owner`.
    public func deadline(for owner: String) -> Duration {
        ownerPolicies[owner]?.deadline ?? deadline
    }

    /// The default action for `owner`, while it has not subscribed.
    public func defaultAction(for owner: String) -> FilterAction {
        ownerPolicies[owner]?.defaultAction ?? defaultAction
    }

    /// The fallback action for `owner`.
    public func fallbackAction(for owner: String) -> FilterAction {
        ownerPolicies[owner]?.fallbackAction ?? fallbackAction
    }

    /// How `owner`'s actions are applied.
    public func actions(for owner: String) -> ActionPolicy {
        actions.applying(ownerPolicies[owner]?.actions)
    }

    /// The offline policy for `owner`.
    public func offlinePolicy(for owner: String) -> OfflinePolicy {
        ownerPolicies[owner]?.offlinePolicy ?? offlinePolicy
    }
}
