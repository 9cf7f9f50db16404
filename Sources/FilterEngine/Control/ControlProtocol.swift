import FilterCore

/// A request on the control socket: one JSON object per line.
///
/// The socket is a Unix-domain socket in the spool directory with mode 0600, so only root (the
/// owner of the spool) may use it.
public struct ControlRequest: Codable, Sendable, Hashable {
    /// What to do.
    public var command: Command
    /// The queue id the command is about, where it takes one.
    public var queueID: QueueID?

    /// The commands the server understands.
    public enum Command: String, Codable, Sendable {
        /// Deliver one message now.
        case retry
        /// Deliver every deferred message now.
        case retryAll
        /// Remove one message without delivering it.
        case delete
    }

    /// Creates a request.
    public init(command: Command, queueID: QueueID? = nil) {
        self.command = command
        self.queueID = queueID
    }
}

/// The server's answer on the control socket: one JSON object per line.
public struct ControlResponse: Codable, Sendable, Hashable {
    /// Whether the command did what was asked.
    public var ok: Bool
    /// A sentence for the operator.
    public var message: String

    /// Creates a response.
    public init(ok: Bool, message: String) {
        self.ok = ok
        self.message = message
    }
}
