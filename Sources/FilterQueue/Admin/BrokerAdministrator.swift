import FilterCore
import Foundation

/// Sets up the broker for wire protocol v1 through the RabbitMQ management API: the exchanges,
/// a server's reply queue and broker user, and one broker user per owner with their queues,
/// policies, bindings, limits and permissions (DESIGN.md "Wire protocol v1"; docs/broker.md).
///
/// Every operation is idempotent: running it again converges on the same state (a password
/// given again is set again).
public struct BrokerAdministrator: Sendable {
    /// The management API.
    public var client: ManagementClient
    /// The virtual host everything lives in.
    public var virtualHost: String
    /// The priority of the policies this administrator writes (default 10). RabbitMQ applies only
    /// the highest-priority policy matching a queue, so an operator's broad policy must stay below.
    public var policyPriority: Int

    /// Creates an administrator.
    /// - Parameters:
    ///   - client: The management API client.
    ///   - virtualHost: The virtual host (default `/`).
    ///   - policyPriority: The priority of the per-queue policies (default 10).
    public init(client: ManagementClient, virtualHost: String = "/", policyPriority: Int = 10) {
        self.client = client
        self.virtualHost = virtualHost
        self.policyPriority = policyPriority
    }

    // MARK: - Setup

    /// What ``setup(serverID:serverUser:serverPassword:replyQueueLimits:)`` did and found.
    public struct SetupReport: Sendable, Hashable {
        /// The server's reply queue.
        public var replyQueue: String
        /// The permissions the server's broker user was given.
        public var serverPermissions: BrokerPermissions
        /// Problems found on the broker that `setup` does not fix, for the operator.
        public var warnings: [String]
    }

    /// Declares the exchanges, the reply queue of server `serverID` (bounded by a policy, bound to
    /// `mailfilter.replies` with routing key `serverID`) and the server's broker user with
    /// ``serverPermissions(serverID:)``, and warns about every user with the `impersonator` tag.
    ///
    /// - Parameters:
    ///   - serverID: The server's id: letters, digits, `.`, `-` and `_`.
    ///   - serverUser: The server's broker user name.
    ///   - serverPassword: Its password; `nil` leaves it without one, for an external
    ///     authentication backend such as LDAP (docs/broker.md).
    ///   - replyQueueLimits: The reply queue's bounds.
    /// - Returns: The report, with the warnings.
    /// - Throws: ``BrokerAdminError``: `invalidServerID`, or the API's refusal.
    public func setup(
        serverID: String,
        serverUser: String,
        serverPassword: String?,
        replyQueueLimits: QueueLimits = .replyQueueDefault
    ) async throws(BrokerAdminError) -> SetupReport {
        let replyQueue = try Self.validatedReplyQueue(serverID: serverID)
        try await declareExchange(Topology.requestExchange, type: "direct")
        try await declareExchange(Topology.replyExchange, type: "direct")
        try await declareExchange(Topology.eventExchange, type: "topic")
        try await declareBoundedQueue(replyQueue, limits: replyQueueLimits)
        try await bind(queue: replyQueue, to: Topology.replyExchange, routingKey: serverID)
        let permissions = Self.serverPermissions(serverID: serverID)
        try await putUser(serverUser, password: serverPassword, permissions: permissions)
        let warnings = try await impersonatorWarnings()
        return SetupReport(replyQueue: replyQueue, serverPermissions: permissions, warnings: warnings)
    }

    /// The least a server needs (docs/broker.md):
    /// - configure its own reply queue only, to declare it again if it went missing (a passive
    ///   declare, with which the server checks an owner's subscription, needs no permission);
    /// - write `mailfilter.requests` and `mailfilter.events` (publish) and its reply queue (bind it);
    /// - read its reply queue (consume) and `mailfilter.replies` (bind from it).
    /// - Parameter serverID: The server's id.
    public static func serverPermissions(serverID: String) -> BrokerPermissions {
        let queue = Topology.escapeRegex(Topology.replyQueue(serverID: serverID))
        let requests = Topology.escapeRegex(Topology.requestExchange)
        let events = Topology.escapeRegex(Topology.eventExchange)
        let replies = Topology.escapeRegex(Topology.replyExchange)
        return BrokerPermissions(
            configure: "^\(queue)$",
            write: "^(\(requests)|\(events)|\(queue))$",
            read: "^(\(replies)|\(queue))$"
        )
    }

    private static func validatedReplyQueue(serverID: String) throws(BrokerAdminError) -> String {
        let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_")
        let name = Topology.replyQueue(serverID: serverID)
        guard !serverID.isEmpty, serverID.allSatisfy(allowed.contains), name.utf8.count <= Topology.maximumQueueNameLength
        else {
            let longest = Topology.maximumQueueNameLength - Topology.replyQueue(serverID: "").utf8.count
            throw BrokerAdminError(
                .invalidServerID, "server id \"\(serverID)\" must be 1 to \(longest) letters, digits, '.', '-' or '_'")
        }
        return name
    }

    // MARK: - Users

    /// What ``addUser(owner:password:limits:)`` set up.
    public struct UserSetup: Sendable, Hashable {
        /// The canonical owner address, which is also the broker user name.
        public var owner: String
        /// The owner's request queue.
        public var requestQueue: String
        /// The owner's events queue.
        public var eventQueue: String
        /// The owner's permissions.
        public var permissions: BrokerPermissions
    }

    /// One owner as ``listUsers()`` finds it.
    public struct FilterUser: Sendable, Hashable {
        /// The canonical owner address.
        public var owner: String
        /// Whether an internal broker user of that name exists (false for users that log in
        /// through another backend only, or half-removed ones).
        public var hasBrokerUser: Bool
        /// Requests waiting in the owner's queue (ready and unacknowledged).
        public var messages: Int
        /// Consumers on the owner's queue: 0 means no client is running.
        public var consumers: Int
        /// Events waiting in the owner's events queue, `nil` when it is missing.
        public var eventMessages: Int?
    }

    /// The canonical form of an owner address: lowercased, as ``OwnerResolver`` does. An address
    /// extension is kept, since an alias may name an owner such as `a+b@example.com`.
    public static func canonicalOwner(_ address: String) -> String {
        OwnerResolver(delimiters: [], aliases: [:]).owner(of: address)
    }

    /// The permissions of an owner: configure `^$`, write `^mailfilter\.replies$`, read only
    /// their request and events queues (every regex metacharacter of the address escaped).
    /// - Parameter owner: The canonical owner address.
    /// - Throws: ``BrokerAdminError/Code/invalidOwner`` when a queue name would exceed 255 octets.
    public static func ownerPermissions(owner: String) throws(BrokerAdminError) -> BrokerPermissions {
        let read: String
        do {
            read = try Topology.ownerQueuesReadPermission(owner: owner)
        } catch {
            throw BrokerAdminError(.invalidOwner, "owner \(owner) is refused: \(error.description)")
        }
        return BrokerPermissions(configure: Topology.configurePermission, write: Topology.writePermission, read: read)
    }

    /// Creates (or brings up to date) the broker user of `owner` with everything it needs: the
    /// request queue bound to `mailfilter.requests` and the events queue bound to
    /// `mailfilter.events`, both with routing key = the owner and bounded by a policy each, the
    /// per-user connection and channel limits, and ``ownerPermissions(owner:)``.
    ///
    /// - Parameters:
    ///   - owner: The owner address; canonicalized with ``canonicalOwner(_:)``.
    ///   - password: The user's password; `nil` leaves it without one, for an external
    ///     authentication backend such as LDAP.
    ///   - limits: Queue bounds and connection limits.
    /// - Returns: What was set up.
    /// - Throws: ``BrokerAdminError``: `invalidOwner` (empty, spaces or control characters, a
    ///   queue name over 255 octets, a `*` or `#` label), or the API's refusal.
    public func addUser(owner: String, password: String?, limits: UserLimits = UserLimits()) async throws(BrokerAdminError)
        -> UserSetup
    {
        let owner = try Self.validatedOwner(owner)
        let permissions = try Self.ownerPermissions(owner: owner)
        let (requestQueue, eventQueue) = try Self.queues(of: owner)
        try await declareBoundedQueue(requestQueue, limits: limits.requestQueue)
        try await bind(queue: requestQueue, to: Topology.requestExchange, routingKey: owner)
        try await declareBoundedQueue(eventQueue, limits: limits.eventQueue)
        try await bind(queue: eventQueue, to: Topology.eventExchange, routingKey: owner)
        try await putUser(owner, password: password, permissions: permissions)
        try await client.put(["user-limits", owner, "max-connections"], LimitBody(value: limits.maxConnections))
        try await client.put(["user-limits", owner, "max-channels"], LimitBody(value: limits.maxChannels))
        return UserSetup(owner: owner, requestQueue: requestQueue, eventQueue: eventQueue, permissions: permissions)
    }

    /// Removes the broker user of `owner` (which closes its connections and drops its
    /// permissions and limits), its two queues (with the requests waiting in them: the server
    /// applies the fallback to those at their deadline) and their policies.
    /// - Parameter owner: The owner address; canonicalized with ``canonicalOwner(_:)``.
    /// - Returns: Whether anything of it existed.
    /// - Throws: ``BrokerAdminError``: `invalidOwner`, or the API's refusal.
    @discardableResult
    public func removeUser(owner: String) async throws(BrokerAdminError) -> Bool {
        let owner = try Self.validatedOwner(owner)
        let (requestQueue, eventQueue) = try Self.queues(of: owner)
        var found = try await client.delete(["users", owner])
        for queue in [requestQueue, eventQueue] {
            let queueFound = try await client.delete(["queues", virtualHost, queue])
            let policyFound = try await client.delete(["policies", virtualHost, queue])
            found = found || queueFound || policyFound
        }
        return found
    }

    /// Every owner with a request queue in the virtual host, sorted by address, with its queue
    /// depth and consumer count.
    /// - Throws: ``BrokerAdminError`` when the API refuses or cannot be reached.
    public func listUsers() async throws(BrokerAdminError) -> [FilterUser] {
        let columns = [URLQueryItem(name: "columns", value: "name,messages,consumers")]
        let queues = try await client.get([QueueBody].self, ["queues", virtualHost], query: columns) ?? []
        let users = Set((try await client.get([UserBody].self, ["users"]) ?? []).map(\.name))
        let requestPrefix = Topology.requestQueuePrefix
        let eventPrefix = Topology.eventQueuePrefix
        let eventQueues = queues.filter { $0.name.hasPrefix(eventPrefix) }
        let eventDepths = Dictionary(
            eventQueues.map { (String($0.name.dropFirst(eventPrefix.count)), $0.messages ?? 0) }
        ) { first, _ in first }
        return queues.filter { $0.name.hasPrefix(requestPrefix) }.map { queue in
            let owner = String(queue.name.dropFirst(requestPrefix.count))
            return FilterUser(
                owner: owner,
                hasBrokerUser: users.contains(owner),
                messages: queue.messages ?? 0,
                consumers: queue.consumers ?? 0,
                eventMessages: eventDepths[owner]
            )
        }.sorted { $0.owner < $1.owner }
    }

    private static func validatedOwner(_ address: String) throws(BrokerAdminError) -> String {
        let owner = canonicalOwner(address)
        let unprintable = owner.unicodeScalars.contains { $0.properties.isWhitespace || $0.value < 0x20 || $0.value == 0x7F }
        guard !owner.isEmpty, !unprintable else {
            throw BrokerAdminError(.invalidOwner, "owner \"\(address)\" is empty or contains spaces or control characters")
        }
        // The events binding key is the owner; in a topic exchange a `*` or `#` label would be a
        // wildcard and route other owners' events to this queue.
        guard !owner.split(separator: ".", omittingEmptySubsequences: false).contains(where: { $0 == "*" || $0 == "#" })
        else {
            throw BrokerAdminError(.invalidOwner, "owner \(owner) has a '*' or '#' label, a wildcard in the events exchange")
        }
        return owner
    }

    private static func queues(of owner: String) throws(BrokerAdminError) -> (request: String, events: String) {
        do {
            return (try Topology.requestQueue(owner: owner), try Topology.eventQueue(owner: owner))
        } catch {
            throw BrokerAdminError(.invalidOwner, "owner \(owner) is refused: \(error.description)")
        }
    }

    // MARK: - Resources

    private func declareExchange(_ name: String, type: String) async throws(BrokerAdminError) {
        try await client.put(["exchanges", virtualHost, name], ExchangeBody(type: type))
    }

    /// A durable classic queue and a policy of its own that bounds it. The policy is named
    /// after the queue and matches exactly it (anchored, escaped).
    private func declareBoundedQueue(_ name: String, limits: QueueLimits) async throws(BrokerAdminError) {
        try await client.put(["queues", virtualHost, name], QueueDeclareBody())
        let policy = PolicyBody(
            pattern: "^" + Topology.escapeRegex(name) + "$",
            definition: .init(
                messageTTL: limits.messageTTLMilliseconds,
                maxLengthBytes: limits.maxLengthBytes,
                overflow: limits.overflow.rawValue
            ),
            priority: policyPriority
        )
        try await client.put(["policies", virtualHost, name], policy)
    }

    /// Binding twice through the API leaves one binding (same source, destination, key, arguments).
    private func bind(queue: String, to exchange: String, routingKey: String) async throws(BrokerAdminError) {
        try await client.post(["bindings", virtualHost, "e", exchange, "q", queue], BindingBody(routingKey: routingKey))
    }

    private func putUser(_ name: String, password: String?, permissions: BrokerPermissions) async throws(BrokerAdminError) {
        try await client.put(["users", name], UserPutBody(password: password))
        try await client.put(["permissions", virtualHost, name], permissions)
    }

    private func impersonatorWarnings() async throws(BrokerAdminError) -> [String] {
        let users = try await client.get([UserBody].self, ["users"]) ?? []
        return users.filter { $0.tags.contains("impersonator") }.map { user in
            "user \(user.name) has the impersonator tag: it can publish with any user_id and so forge "
                + "any owner's replies; remove the tag"
        }
    }
}

// MARK: - Management API bodies

private struct ExchangeBody: Encodable, Sendable {
    var type: String
    var durable = true
    var autoDelete = false
    var `internal` = false
    enum CodingKeys: String, CodingKey {
        case type, durable, `internal`
        case autoDelete = "auto_delete"
    }
}

private struct QueueDeclareBody: Encodable, Sendable {
    var durable = true
    var autoDelete = false
    enum CodingKeys: String, CodingKey {
        case durable
        case autoDelete = "auto_delete"
    }
}

private struct PolicyBody: Encodable, Sendable {
    struct Definition: Encodable, Sendable {
        var messageTTL: Int
        var maxLengthBytes: Int
        var overflow: String
        enum CodingKeys: String, CodingKey {
            case overflow
            case messageTTL = "message-ttl"
            case maxLengthBytes = "max-length-bytes"
        }
    }
    var pattern: String
    var definition: Definition
    var priority: Int
    var applyTo = "queues"
    enum CodingKeys: String, CodingKey {
        case pattern, definition, priority
        case applyTo = "apply-to"
    }
}

private struct BindingBody: Encodable, Sendable {
    var routingKey: String
    enum CodingKeys: String, CodingKey { case routingKey = "routing_key" }
}

/// `password_hash: ""` creates a user that cannot log in with a password (RabbitMQ's
/// "passwordless user"), for an external authentication backend.
private struct UserPutBody: Encodable, Sendable {
    var password: String?
    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        if let password {
            try container.encode(password, forKey: .password)
        } else {
            try container.encode("", forKey: .passwordHash)
        }
        try container.encode("", forKey: .tags)
    }
    enum CodingKeys: String, CodingKey {
        case password, tags
        case passwordHash = "password_hash"
    }
}

private struct LimitBody: Encodable, Sendable {
    var value: Int
}

private struct QueueBody: Decodable, Sendable {
    var name: String
    var messages: Int?
    var consumers: Int?
}

/// A user as `/api/users` lists it; `tags` is an array since RabbitMQ 3.9 and a comma-separated
/// string before.
private struct UserBody: Decodable, Sendable {
    var name: String
    var tags: [String]
    enum CodingKeys: String, CodingKey { case name, tags }
    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        name = try container.decode(String.self, forKey: .name)
        if let list = try? container.decode([String].self, forKey: .tags) {
            tags = list
        } else {
            let text = try container.decodeIfPresent(String.self, forKey: .tags) ?? ""
            tags = text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        }
    }
}
