import FilterCore
import FilterQuarantine
import Foundation

/// A request on the control socket: one JSON object per line.
///
/// The socket is a Unix-domain socket in the spool directory with mode 0600, so only root (the
/// owner of the spool) may use it. Fields a command does not use are absent; a server ignores
/// fields it does not know.
public struct ControlRequest: Codable, Sendable, Hashable {
    /// What to do.
    public var command: Command
    /// The queue id the command is about, where it takes one.
    public var queueID: QueueID?
    /// The quarantine entry the command is about (`quarantineShow`, `quarantineRelease`,
    /// `quarantineDelete`).
    public var quarantineID: String?
    /// `quarantineList`: only entries whose recipient or owner is this address.
    public var recipient: String?
    /// `quarantineList`: only entries quarantined at or after this time.
    public var since: Date?
    /// `quarantineList`: at most this many entries.
    public var limit: Int?

    /// The commands the server understands.
    public enum Command: String, Codable, Sendable {
        /// Deliver one message now.
        case retry
        /// Deliver every deferred message now.
        case retryAll
        /// Remove one message without delivering it.
        case delete
        /// List quarantine entries (``ControlResponse/quarantineEntries``).
        case quarantineList
        /// One quarantine entry and its message's header section.
        case quarantineShow
        /// Reinject a quarantined message to its recipient, then delete the entry.
        case quarantineRelease
        /// Delete a quarantine entry without delivering it.
        case quarantineDelete
    }

    /// Creates a request.
    public init(
        command: Command, queueID: QueueID? = nil, quarantineID: String? = nil, recipient: String? = nil,
        since: Date? = nil, limit: Int? = nil
    ) {
        self.command = command
        self.queueID = queueID
        self.quarantineID = quarantineID
        self.recipient = recipient
        self.since = since
        self.limit = limit
    }
}

/// The server's answer on the control socket: one JSON object per line.
public struct ControlResponse: Codable, Sendable, Hashable {
    /// Whether the command did what was asked.
    public var ok: Bool
    /// A sentence for the operator.
    public var message: String
    /// `quarantineList` and `quarantineShow`: the entries found.
    public var quarantineEntries: [QuarantineEntry]?
    /// `quarantineShow`: the header section of the entry's message.
    public var headers: String?

    /// Creates a response.
    public init(ok: Bool, message: String, quarantineEntries: [QuarantineEntry]? = nil, headers: String? = nil) {
        self.ok = ok
        self.message = message
        self.quarantineEntries = quarantineEntries
        self.headers = headers
    }
}
