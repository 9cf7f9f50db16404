import FilterQuarantine
import Foundation

/// How the server keeps its quarantine store, expires it and sends digests.
public struct QuarantineConfiguration: Sendable, Hashable {
    /// Whether the server opens a quarantine store at all. Default `true`.
    public var isEnabled: Bool
    /// The store's directory; `nil` (the default) means `quarantine` in the spool directory.
    public var directory: String?
    /// How long an entry is kept before it expires. Default 30 days.
    public var retention: Duration
    /// How often expired entries are deleted. Default 1 hour.
    public var expiryInterval: Duration
    /// The least time between two digests to the same recipient; `.zero` sends none.
    /// Default 1 day. A recipient's first digest goes out one interval after their oldest
    /// entry not yet reported.
    public var digestInterval: Duration
    /// The digests' `From:` address; `nil` (the default) means `postmaster@<hostname>`.
    public var digestFrom: String?

    /// Creates a configuration with the documented defaults.
    public init(
        isEnabled: Bool = true, directory: String? = nil, retention: Duration = QuarantineStore.defaultRetention,
        expiryInterval: Duration = .seconds(3600), digestInterval: Duration = .seconds(86400), digestFrom: String? = nil
    ) {
        self.isEnabled = isEnabled
        self.directory = directory
        self.retention = retention
        self.expiryInterval = expiryInterval
        self.digestInterval = digestInterval
        self.digestFrom = digestFrom
    }

    /// The store's directory for a server whose spool is `spoolDirectory`.
    public func resolvedDirectory(spoolDirectory: String) -> String {
        directory ?? spoolDirectory + "/quarantine"
    }
}
