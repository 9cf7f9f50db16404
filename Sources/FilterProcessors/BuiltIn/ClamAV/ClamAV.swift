import FilterCore

/// Scans the message with ClamAV's clamd (`INSTREAM`); clamd itself decodes MIME, base64 and
/// archives before matching. A signature found decides `action` (default `virus`) with the
/// signature's name as the reason.
///
/// A message larger than `max_stream_bytes` (keep it at clamd's `StreamMaxLength`) is not sent:
/// it is an error, so the step's `on_error` decides, as for a daemon that is down. With the
/// default `on_error: continue` such mail goes on unscanned with `error` in the trace; set
/// `on_error: quarantine` (or `pending`) to hold what could not be scanned.
public struct ClamAV: ConfigurableProcessor {
    public static let type = "clamav"
    public static let optionKeys: Set<String> = ["address", "action", "max_stream_bytes", "connect_timeout"]

    /// The options of a `clamav` entry.
    public struct Options: Decodable, Sendable {
        /// `host:port` or `/path` of clamd's socket; default `/var/run/clamav/clamd.ctl`.
        public var address: String?
        /// The action for a message with a signature found; default `virus`.
        public var action: String?
        /// The largest message sent, in bytes; default 26214400 (25 MiB, clamd's default
        /// `StreamMaxLength`).
        public var maxStreamBytes: Int?
        /// Seconds to wait for a connection; default 5.
        public var connectTimeout: Double?

        enum CodingKeys: String, CodingKey {
            case address, action
            case maxStreamBytes = "max_stream_bytes", connectTimeout = "connect_timeout"
        }

        /// Creates options.
        public init(address: String? = nil, action: String? = nil, maxStreamBytes: Int? = nil, connectTimeout: Double? = nil) {
            self.address = address
            self.action = action
            self.maxStreamBytes = maxStreamBytes
            self.connectTimeout = connectTimeout
        }
    }

    /// clamd's default `StreamMaxLength`, in bytes.
    public static let defaultMaxStreamBytes = 25 * 1024 * 1024

    public let name: String
    /// The client it asks.
    public let client: ClamdClient
    private let action: FilterAction
    private let maxStreamBytes: Int

    public init(name: String = type, options: Options) throws(ProcessorConfigurationError) {
        self.name = name
        let address = try DaemonAddress(options.address ?? "/var/run/clamav/clamd.ctl", key: "\(name).address")
        client = ClamdClient(address: address, limits: try DaemonLimits.configured(connectTimeout: options.connectTimeout, key: "\(name).connect_timeout"))
        action = try FilterAction.configured(options.action ?? "virus", key: "\(name).action")
        maxStreamBytes = options.maxStreamBytes ?? Self.defaultMaxStreamBytes
        guard maxStreamBytes > 0 else { throw ProcessorConfigurationError("\(name).max_stream_bytes: must be a positive number of bytes") }
    }

    public func process(_ request: ProcessorRequest, verdict: Verdict) async throws -> ProcessorOutcome {
        guard request.rawMessage.count <= maxStreamBytes else {
            throw DaemonError(
                .messageTooLarge,
                "\(request.rawMessage.count) bytes is more than max_stream_bytes \(maxStreamBytes): not scanned by clamd")
        }
        guard let signature = try await client.scan(request.rawMessage).signature else {
            return .continue(verdict)
        }
        return .decide(Decision(action, reason: signature), verdict: verdict)
    }
}
