/// Limits and intervals of the server console's pages.
public struct ConsoleConfiguration: Sendable, Hashable {
    /// Rows per page of the message log and the quarantine. Default 50.
    public var pageSize: Int
    /// Rows of recent messages on the overview. Default 20.
    public var overviewRows: Int
    /// How often `/live` sends a status event. Default 5 seconds.
    public var statusInterval: Duration
    /// How often `/live` sends a keep-alive comment, so proxies keep the stream open and a
    /// client that went away is noticed. Default 15 seconds.
    public var keepAliveInterval: Duration
    /// How many characters of a quarantined message's text body are shown; the rest is cut
    /// with a note. Default 200 000.
    public var maximumBodyCharacters: Int
    /// How many octets of a quarantined message are read to show it; a larger message is shown
    /// from its start, with a note. Default 4 MiB (4 194 304 octets).
    public var maximumMessageBytes: Int
    /// `/live` streams open at once, in all; beyond it a new one gets 429. Default 64.
    public var maximumLiveStreams: Int
    /// `/live` streams one login name may hold open at once (tabs, browsers). Default 8.
    public var maximumLiveStreamsPerUser: Int

    /// Creates a configuration with the documented defaults.
    public init(
        pageSize: Int = 50, overviewRows: Int = 20, statusInterval: Duration = .seconds(5),
        keepAliveInterval: Duration = .seconds(15), maximumBodyCharacters: Int = 200_000,
        maximumMessageBytes: Int = 4 * 1024 * 1024, maximumLiveStreams: Int = 64, maximumLiveStreamsPerUser: Int = 8
    ) {
        self.pageSize = pageSize
        self.overviewRows = overviewRows
        self.statusInterval = statusInterval
        self.keepAliveInterval = keepAliveInterval
        self.maximumBodyCharacters = maximumBodyCharacters
        self.maximumMessageBytes = maximumMessageBytes
        self.maximumLiveStreams = maximumLiveStreams
        self.maximumLiveStreamsPerUser = maximumLiveStreamsPerUser
    }
}
