/// The names of wire protocol v1 (DESIGN.md): exchanges, queues and the permission regexes that
/// confine each owner to their own queue.
public enum Topology {
    /// The direct exchange requests are published to, with the owner as routing key.
    public static let requestExchange = "mailfilter.requests"
    /// The direct exchange replies are published to, with the server id as routing key.
    public static let replyExchange = "mailfilter.replies"
    /// The topic exchange final outcomes are published to.
    public static let eventExchange = "mailfilter.events"
    /// AMQP limits queue names to 255 octets (AMQP 0-9-1 `shortstr`).
    public static let maximumQueueNameLength = 255

    /// What every request queue's name starts with; the owner follows.
    public static let requestQueuePrefix = "mailfilter.user."
    /// What every events queue's name starts with; the owner follows.
    public static let eventQueuePrefix = "mailfilter.events."

    /// The queue of an owner's requests: `mailfilter.user.<owner>`.
    /// - Throws: ``TopologyError`` when the name would exceed 255 octets.
    public static func requestQueue(owner: String) throws(TopologyError) -> String {
        try ownerQueue(requestQueuePrefix, owner: owner, kind: "queue")
    }

    /// The queue of an owner's outcome events: `mailfilter.events.<owner>`, bound to
    /// ``eventExchange`` with the owner as routing key (docs/broker.md).
    /// - Throws: ``TopologyError`` when the name would exceed 255 octets.
    public static func eventQueue(owner: String) throws(TopologyError) -> String {
        try ownerQueue(eventQueuePrefix, owner: owner, kind: "events queue")
    }

    private static func ownerQueue(_ prefix: String, owner: String, kind: String) throws(TopologyError) -> String {
        let name = prefix + owner
        guard name.utf8.count <= maximumQueueNameLength else {
            throw TopologyError("the \(kind) name for \(owner) would be \(name.utf8.count) octets; AMQP allows 255")
        }
        return name
    }

    /// The RabbitMQ `read` permission `filterctl user add` grants an owner: exactly their
    /// request queue and their events queue, `^mailfilter\.(user|events)\.<escaped owner>$`.
    /// - Throws: ``TopologyError`` when either queue name would exceed 255 octets.
    public static func ownerQueuesReadPermission(owner: String) throws(TopologyError) -> String {
        _ = try requestQueue(owner: owner)
        _ = try eventQueue(owner: owner)
        return "^mailfilter\\.(user|events)\\." + escapeRegex(owner) + "$"
    }

    /// The reply queue of a server: `mailfilter.server.<serverId>`.
    public static func replyQueue(serverID: String) -> String {
        "mailfilter.server." + serverID
    }

    /// The RabbitMQ `read` permission of an owner: exactly their own request queue.
    public static func readPermission(owner: String) throws(TopologyError) -> String {
        "^" + escapeRegex(try requestQueue(owner: owner)) + "$"
    }

    /// The RabbitMQ `write` permission of every owner: only the reply exchange.
    public static let writePermission = "^" + escapeRegex(replyExchange) + "$"

    /// The RabbitMQ `configure` permission of every owner: nothing.
    public static let configurePermission = "^$"

    /// Escapes every regular-expression metacharacter, so an address such as `x|y@example.com`
    /// or `a+b@example.com` matches only itself.
    public static func escapeRegex(_ text: String) -> String {
        var result = ""
        for character in text {
            if "\\^$.|?*+()[]{}/-".contains(character) { result.append("\\") }
            result.append(character)
        }
        return result
    }
}

/// A name that wire protocol v1 cannot carry.
public struct TopologyError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What is wrong, for the operator.
    public var description: String

    /// Creates an error.
    public init(_ description: String) { self.description = description }
}
