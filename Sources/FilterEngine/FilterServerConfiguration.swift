import FilterCore
import FilterSMTP
import Foundation
import NIOCore

/// Everything `filterd server` needs, with the defaults an operator gets when the configuration
/// file is silent. Parsing files and flags happens in the executable; this is the model.
public struct FilterServerConfiguration: Sendable {
    /// The SMTP listener (address, limits, peers). Default `127.0.0.1:10024`.
    public var smtp: SMTPServerConfiguration
    /// The next hop for reinjection. Default `127.0.0.1:10025`.
    public var nextHop: NextHop
    /// The spool directory. Default `/var/spool/filterd`.
    public var spoolDirectory: String
    /// Retry and lifetime rules of delivery.
    public var delivery: Delivery
    /// The control socket for `filterctl`; default `control.sock` in the spool directory.
    public var controlSocketPath: String?
    /// Threads for blocking spool I/O. Default 8: enough for the parallel sync jobs of a
    /// group-commit batch while delivery reads messages from the spool.
    public var fileThreads: Int
    /// How owners are asked for decisions when the server runs with a transport.
    public var filtering: FilteringConfiguration
    /// Where and how the quarantine is kept, expired and reported in digests.
    public var quarantine = QuarantineConfiguration()
    /// How outcome events are published when the server runs with a transport.
    public var events = EventConfiguration()

    /// The next hop's address and the client's timeouts.
    public struct NextHop: Sendable, Hashable {
        /// Host name or address. Default `127.0.0.1`.
        public var host: String
        /// Port. Default 10025 (Postfix FILTER_README).
        public var port: Int

        /// Creates a next hop.
        public init(host: String = "127.0.0.1", port: Int = 10025) {
            self.host = host
            self.port = port
        }
    }

    /// How delivery is retried.
    public struct Delivery: Sendable, Hashable {
        /// Messages delivered at once (one next-hop connection each). Default 20.
        public var concurrency: Int
        /// The first retry delay after a temporary failure, in seconds. Default 10 s; each later
        /// retry doubles it.
        public var minimumBackoff: Double
        /// The longest retry delay, in seconds. Default 300 s.
        public var maximumBackoff: Double
        /// How long a message may stay in the spool before undelivered recipients fail with
        /// `4.4.7` and a DSN, in seconds. Default 5 days, Postfix's `maximal_queue_lifetime`.
        public var maximumQueueLifetime: Double
        /// How many octets of newly accepted small messages are kept in memory for their first
        /// delivery attempt, so it need not read them back from the spool; messages beyond it
        /// are read from their files. Default 16 MiB (16 777 216 octets); 0 turns it off.
        public var memoryBytes: Int

        /// Creates delivery rules with the documented defaults.
        public init(
            concurrency: Int = 20, minimumBackoff: Double = 10, maximumBackoff: Double = 300,
            maximumQueueLifetime: Double = 5 * 24 * 3600, memoryBytes: Int = 16 * 1024 * 1024
        ) {
            self.concurrency = concurrency
            self.minimumBackoff = minimumBackoff
            self.maximumBackoff = maximumBackoff
            self.maximumQueueLifetime = maximumQueueLifetime
            self.memoryBytes = memoryBytes
        }

        /// The delay before attempt number `attempts + 1`, after `attempts` failed ones.
        public func backoff(afterAttempts attempts: Int) -> Double {
            let exponent = Double(max(0, min(attempts - 1, 30)))
            return min(maximumBackoff, minimumBackoff * pow(2, exponent))
        }
    }

    /// Creates a configuration with the documented defaults.
    /// - Parameter hostname: the server's own host name, used in its greeting, `Received` fields
    ///   and DSNs (`Reporting-MTA`). It must differ from Postfix's `myhostname`.
    public init(hostname: String) {
        self.smtp = SMTPServerConfiguration(hostname: hostname)
        self.nextHop = NextHop()
        self.spoolDirectory = "/var/spool/filterd"
        self.delivery = Delivery()
        self.controlSocketPath = nil
        self.fileThreads = 8
        self.filtering = FilteringConfiguration(serverID: hostname)
    }

    /// The server's own host name.
    public var hostname: String { smtp.session.hostname }

    /// Where the control socket lives.
    public var resolvedControlSocketPath: String {
        controlSocketPath ?? spoolDirectory + "/control.sock"
    }
}
