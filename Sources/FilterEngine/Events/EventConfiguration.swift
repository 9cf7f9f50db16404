/// How the server publishes outcome events to `mailfilter.events` (docs/protocol.md, "Events").
/// Events are best-effort: mail never waits for them.
public struct EventConfiguration: Sendable, Hashable {
    /// Events waiting to be published or being published, at most; beyond that new events are
    /// dropped (and counted) until the broker catches up. Default 10 000 events.
    public var maximumPending: Int
    /// Events published at once, each waiting for its publisher confirm. Default 16.
    public var concurrency: Int
    /// On shutdown, how long pending events may still be published after delivery has
    /// stopped; events not started by then are dropped. Default 5 s.
    public var shutdownGrace: Duration

    /// Creates a configuration with the documented defaults.
    public init(maximumPending: Int = 10_000, concurrency: Int = 16, shutdownGrace: Duration = .seconds(5)) {
        self.maximumPending = maximumPending
        self.concurrency = concurrency
        self.shutdownGrace = shutdownGrace
    }
}
