/// Where the message log lives and how long it keeps rows.
public struct MessageLogConfiguration: Sendable, Hashable {
    /// The SQLite database file. filterd's default is `<spool>/messages.sqlite`.
    public var path: String
    /// How long a row is kept after its outcome. Default 7 days.
    public var retention: Duration
    /// How often rows older than ``retention`` are deleted. Default 1 hour.
    public var pruneInterval: Duration
    /// How many octets of a message are read to find its `Subject`. Default 64 KiB
    /// (65 536 octets): the header sections of ordinary mail fit many times over; a subject
    /// beyond it is shown as missing.
    public var maximumHeaderBytes: Int
    /// How many new rows are buffered for one slow live subscriber before the oldest are
    /// dropped. Default 256.
    public var liveBuffer: Int
    /// How many recorded outcomes may wait to be written; beyond it new ones are dropped (and
    /// logged), so a stalled database never holds up delivery or grows memory. Default 10 000.
    public var maximumPendingRows: Int
    /// How long recorded outcomes gather before they are written in one transaction (and
    /// appear in searches and live views). Default 50 ms.
    public var batchDelay: Duration

    /// The default retention: 7 days.
    public static let defaultRetention = Duration.seconds(7 * 24 * 3600)

    /// Creates a configuration with the documented defaults.
    public init(
        path: String, retention: Duration = MessageLogConfiguration.defaultRetention, pruneInterval: Duration = .seconds(3600),
        maximumHeaderBytes: Int = 64 * 1024, liveBuffer: Int = 256, maximumPendingRows: Int = 10_000,
        batchDelay: Duration = .milliseconds(50)
    ) {
        self.path = path
        self.retention = retention
        self.pruneInterval = pruneInterval
        self.maximumHeaderBytes = maximumHeaderBytes
        self.liveBuffer = liveBuffer
        self.maximumPendingRows = maximumPendingRows
        self.batchDelay = batchDelay
    }
}
