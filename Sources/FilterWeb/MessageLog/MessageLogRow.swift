import FilterCore
import Foundation

/// One final outcome for one recipient of one message, as the message log keeps it.
public struct MessageLogRow: Sendable, Hashable, Codable {
    /// The row's sequence number in the log (ascending in insertion order).
    public var sequence: Int64
    /// The recipient's request id (the event id of its outcome): unique in the log, so an
    /// outcome repeated after a crash is recorded once.
    public var eventID: String
    /// The server's queue id of the message.
    public var queueID: String
    /// When the server accepted the message.
    public var receivedAt: Date
    /// When the recipient's outcome became final.
    public var finishedAt: Date
    /// The envelope sender; empty for the null sender.
    public var sender: String
    /// The recipient as given in `RCPT TO`.
    public var recipient: String
    /// The recipient's canonical owner.
    public var owner: String
    /// The message's `Subject`, RFC 2047 decoded; `nil` when it has none or it could not be read.
    public var subject: String?
    /// The action applied.
    public var action: FilterAction
    /// Who or what decided the action (`client`, `unsubscribed`, `deadline`, ...).
    public var source: String
    /// The final state: `delivered`, `denied`, `quarantined` or `failed`.
    public var state: String
    /// The client's reason, when it gave one.
    public var reason: String?
    /// The next hop's last reply or the server's diagnostic.
    public var detail: String?
    /// The client's score, when it gave one.
    public var score: Double?
    /// The client's tags.
    public var tags: [String]
    /// What each processor of the client's pipeline did, in order.
    public var processors: [FilterReply.ProcessorTrace]

    /// Creates a row.
    public init(
        sequence: Int64 = 0, eventID: String, queueID: String, receivedAt: Date, finishedAt: Date, sender: String,
        recipient: String, owner: String, subject: String?, action: FilterAction, source: String, state: String,
        reason: String? = nil, detail: String? = nil, score: Double? = nil, tags: [String] = [],
        processors: [FilterReply.ProcessorTrace] = []
    ) {
        self.sequence = sequence
        self.eventID = eventID
        self.queueID = queueID
        self.receivedAt = receivedAt
        self.finishedAt = finishedAt
        self.sender = sender
        self.recipient = recipient
        self.owner = owner
        self.subject = subject
        self.action = action
        self.source = source
        self.state = state
        self.reason = reason
        self.detail = detail
        self.score = score
        self.tags = tags
        self.processors = processors
    }
}

/// What to look for in the message log.
public struct MessageLogQuery: Sendable, Hashable {
    /// Matched as a substring, case-insensitively (ASCII letters), against the queue id, the
    /// sender and the recipient; `nil` or empty matches every row.
    public var text: String?
    /// Only rows with this action.
    public var action: FilterAction?
    /// Only rows of this owner (what a user's pages set).
    public var owner: String?
    /// The page, from 1.
    public var page: Int
    /// Rows per page. Default 50.
    public var pageSize: Int

    /// Creates a query; the defaults match every row and give the first 50.
    public init(text: String? = nil, action: FilterAction? = nil, owner: String? = nil, page: Int = 1, pageSize: Int = 50) {
        self.text = text
        self.action = action
        self.owner = owner
        self.page = page
        self.pageSize = pageSize
    }
}

/// One page of search results, newest first.
public struct MessageLogPage: Sendable, Hashable {
    /// The rows.
    public var rows: [MessageLogRow]
    /// The page number, from 1.
    public var page: Int
    /// Whether a further page has rows.
    public var hasMore: Bool

    /// Creates a page.
    public init(rows: [MessageLogRow], page: Int, hasMore: Bool) {
        self.rows = rows
        self.page = page
        self.hasMore = hasMore
    }
}

/// One owner as the message log has seen them.
public struct MessageLogOwner: Sendable, Hashable {
    /// The canonical owner.
    public var owner: String
    /// When their last outcome was recorded.
    public var lastActivity: Date
    /// How many outcomes the log holds for them.
    public var outcomes: Int

    /// Creates a record.
    public init(owner: String, lastActivity: Date, outcomes: Int) {
        self.owner = owner
        self.lastActivity = lastActivity
        self.outcomes = outcomes
    }
}

/// Why the message log failed.
public struct MessageLogError: Error, Sendable, CustomStringConvertible {
    /// What kind of failure.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        /// The name, e.g. `database`.
        public let rawValue: String
        /// The database could not be opened, read or written.
        public static let database = Code(rawValue: "database")
        /// A value could not be encoded or decoded.
        public static let corrupt = Code(rawValue: "corrupt")
        /// The name.
        public var description: String { rawValue }
    }

    /// What kind of failure.
    public var code: Code
    /// What went wrong, for the operator.
    public var message: String
    /// The database file.
    public var path: String
    /// The underlying error, when there is one.
    public var reason: String?

    /// Creates an error.
    public init(code: Code, message: String, path: String, reason: String? = nil) {
        self.code = code
        self.message = message
        self.path = path
        self.reason = reason
    }

    /// `message log <path>: <message> (<reason>)`.
    public var description: String {
        "message log \(path): \(message)" + (reason.map { " (\($0))" } ?? "")
    }
}
