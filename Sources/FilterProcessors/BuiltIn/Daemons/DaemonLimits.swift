/// How long a daemon client waits and how much it reads.
public struct DaemonLimits: Sendable, Hashable {
    /// How long connecting may take; default 5 seconds.
    public var connectTimeout: Duration
    /// How long one whole exchange (connect, send, answer) may take; default 60 seconds. In a
    /// pipeline the step's `timeout` usually ends it sooner, by cancelling the processor.
    public var timeout: Duration
    /// The largest answer read, in bytes; default 1 MiB (a spamd `REPORT` is a few KB).
    public var maxResponseBytes: Int

    /// Creates limits; the defaults are documented on each property.
    public init(connectTimeout: Duration = .seconds(5), timeout: Duration = .seconds(60), maxResponseBytes: Int = 1 << 20) {
        self.connectTimeout = connectTimeout
        self.timeout = timeout
        self.maxResponseBytes = maxResponseBytes
    }
}

extension DaemonLimits {
    /// The default limits with the connect timeout of a configuration file.
    /// - Parameters:
    ///   - seconds: A positive number of seconds, or `nil` for the default.
    ///   - key: The option, for the error message.
    /// - Throws: ``ProcessorConfigurationError`` when `seconds` is not positive.
    static func configured(connectTimeout seconds: Double?, key: String) throws(ProcessorConfigurationError) -> DaemonLimits {
        var limits = DaemonLimits()
        if let seconds {
            guard seconds > 0 else { throw ProcessorConfigurationError("\(key): must be a positive number of seconds") }
            limits.connectTimeout = .milliseconds(Int64(seconds * 1000))
        }
        return limits
    }
}
