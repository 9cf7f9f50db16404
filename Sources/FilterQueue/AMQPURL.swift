import Foundation

/// Where and how to reach a RabbitMQ broker: an AMQP URI as RabbitMQ's URI specification
/// describes it (`amqp://user:pass@host:port/vhost?options`, or `amqps://` for TLS).
///
/// User name, password and virtual host are percent-decoded: `alice%40example.com` is the user
/// `alice@example.com`, and the path `/%2F` is the virtual host `/`. An empty path, or none,
/// means the virtual host `/`. Default ports: 5672 (`amqp`), 5671 (`amqps`).
///
/// The password may be left out of the URL, so that it never appears on a command line; it is
/// then given separately (``init(_:password:)``, ``readPasswordFile(_:)``). ``description``
/// never shows it.
///
/// Query options (names as in RabbitMQ's URI query parameters):
///
/// | option | meaning | default |
/// |---|---|---|
/// | `cacertfile` | PEM file of the CAs that sign the broker's certificate | none (TLS then fails unless `verify=verify_none`) |
/// | `certfile` | PEM client certificate, for brokers that require one | none |
/// | `keyfile` | PEM private key of `certfile` | none |
/// | `verify` | `verify_peer`: check the certificate chain *and* that it names `host`; `verify_none`: check nothing (tests only) | `verify_peer` |
/// | `heartbeat` | AMQP heartbeat interval the client asks for, in seconds (0 = none) | 30 |
/// | `connection_timeout` | TCP/TLS connect and login timeout, in milliseconds | 10000 |
/// | `channel_max` | most channels per connection the client asks for (0 = broker's limit) | 0 |
/// | `frame_max` | largest frame the client asks for, in octets | 131072 |
///
/// Unknown options are an error, so a misspelt `cacertfile` cannot silently turn off TLS checks.
public struct AMQPURL: Sendable, Hashable, CustomStringConvertible {
    /// Whether the connection uses TLS (`amqps`).
    public var usesTLS: Bool
    /// The broker's host name or address (IPv6 without brackets).
    public var host: String
    /// The broker's port.
    public var port: Int
    /// The broker user, percent-decoded. `guest` when the URL names none.
    public var user: String
    /// The password, percent-decoded; `nil` until given (in the URL or separately).
    public var password: String?
    /// The virtual host, percent-decoded (`/` by default).
    public var virtualHost: String
    /// TLS settings (`cacertfile`, `certfile`, `keyfile`, `verify`); used only with `amqps`.
    public var tls: TLSOptions
    /// The heartbeat interval asked of the broker, in whole seconds; 0 turns heartbeats off.
    public var heartbeatSeconds: Int
    /// How long connecting and logging in may take.
    public var connectionTimeout: Duration
    /// Most channels per connection asked of the broker; 0 means the broker's limit.
    public var channelMax: Int
    /// Largest frame asked of the broker, in octets.
    public var frameMax: Int

    /// TLS settings of an `amqps` URL.
    public struct TLSOptions: Sendable, Hashable {
        /// PEM file of trusted CA certificates (`cacertfile`).
        public var caCertificateFile: String?
        /// PEM client certificate (`certfile`).
        public var certificateFile: String?
        /// PEM private key of the client certificate (`keyfile`).
        public var keyFile: String?
        /// Whether the broker's certificate chain and host name are checked (`verify`).
        public var verifyPeer: Bool

        /// Creates TLS settings; by default the peer is verified and no files are set.
        public init(
            caCertificateFile: String? = nil, certificateFile: String? = nil, keyFile: String? = nil,
            verifyPeer: Bool = true
        ) {
            self.caCertificateFile = caCertificateFile
            self.certificateFile = certificateFile
            self.keyFile = keyFile
            self.verifyPeer = verifyPeer
        }
    }

    /// The default AMQP port.
    public static let defaultPort = 5672
    /// The default AMQP-over-TLS port.
    public static let defaultTLSPort = 5671

    /// Parses an AMQP URI.
    ///
    /// - Parameters:
    ///   - string: `amqp://[user[:password]@]host[:port][/vhost][?options]` or `amqps://...`.
    ///   - password: the password, when the URL carries none (read from a file or the
    ///     environment by the caller). A password in the URL wins over this one.
    /// - Throws: ``TransportError/Code/invalidURL`` naming what is wrong (never the password).
    public init(_ string: String, password: String? = nil) throws(TransportError) {
        var rest = Substring(string)
        if rest.lowercased().hasPrefix("amqps://") {
            usesTLS = true
            rest = rest.dropFirst("amqps://".count)
        } else if rest.lowercased().hasPrefix("amqp://") {
            usesTLS = false
            rest = rest.dropFirst("amqp://".count)
        } else {
            throw Self.invalid("the scheme must be amqp:// or amqps://")
        }
        var query: Substring = ""
        if let mark = rest.firstIndex(of: "?") {
            query = rest[rest.index(after: mark)...]
            rest = rest[..<mark]
        }
        var path: Substring = ""
        if let slash = rest.firstIndex(of: "/") {
            path = rest[rest.index(after: slash)...]
            rest = rest[..<slash]
        }
        var hostPort = rest
        var decodedUser: String?
        var decodedPassword: String?
        if let at = rest.lastIndex(of: "@") {
            let userInfo = rest[..<at]
            hostPort = rest[rest.index(after: at)...]
            if let colon = userInfo.firstIndex(of: ":") {
                decodedUser = try Self.decode(userInfo[..<colon], what: "user name")
                decodedPassword = try Self.decode(userInfo[userInfo.index(after: colon)...], what: "password")
            } else {
                decodedUser = try Self.decode(userInfo, what: "user name")
            }
        }
        let (parsedHost, parsedPort) = try Self.splitHostPort(hostPort)
        host = parsedHost.isEmpty ? "localhost" : parsedHost
        port = parsedPort ?? (usesTLS ? Self.defaultTLSPort : Self.defaultPort)
        if path.contains("/") {
            throw Self.invalid("the virtual host must be one path segment (write / as %2F)")
        }
        virtualHost = path.isEmpty ? "/" : try Self.decode(path, what: "virtual host")
        if let decodedUser, !decodedUser.isEmpty {
            user = decodedUser
            self.password = decodedPassword ?? password
        } else {
            user = "guest"
            self.password = decodedPassword ?? password ?? "guest"
        }
        tls = TLSOptions()
        heartbeatSeconds = 30
        connectionTimeout = .seconds(10)
        channelMax = 0
        frameMax = 131_072
        try applyQuery(query)
    }

    /// Reads a password file: its first line, without the line end.
    /// - Throws: ``TransportError/Code/invalidURL`` when the file cannot be read or is empty.
    public static func readPasswordFile(_ path: String) throws(TransportError) -> String {
        let contents: String
        do {
            contents = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw TransportError(.invalidURL, "cannot read the password file \(path): \(error.localizedDescription)")
        }
        let firstLine = contents.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).first ?? ""
        guard !firstLine.isEmpty else {
            throw TransportError(.invalidURL, "the password file \(path) is empty")
        }
        return String(firstLine)
    }

    /// The URL with the password replaced by `***` (or left out when there is none), for logs.
    public var description: String {
        let scheme = usesTLS ? "amqps" : "amqp"
        let credentials = Self.encode(user) + (password == nil ? "" : ":***")
        let hostPart = host.contains(":") ? "[\(host)]" : host
        return "\(scheme)://\(credentials)@\(hostPart):\(port)/\(Self.encode(virtualHost))"
    }

    // MARK: Parsing

    private mutating func applyQuery(_ query: Substring) throws(TransportError) {
        for pair in query.split(separator: "&") where !pair.isEmpty {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let name = String(parts[0])
            let value = try Self.decode(parts.count > 1 ? parts[1] : "", what: "option \(name)")
            switch name {
            case "cacertfile": tls.caCertificateFile = value
            case "certfile": tls.certificateFile = value
            case "keyfile": tls.keyFile = value
            case "verify":
                switch value {
                case "verify_peer": tls.verifyPeer = true
                case "verify_none": tls.verifyPeer = false
                default: throw Self.invalid("verify must be verify_peer or verify_none, not \(value)")
                }
            case "heartbeat": heartbeatSeconds = try Self.number(value, option: name, range: 0...65_535)
            case "connection_timeout":
                connectionTimeout = .milliseconds(try Self.number(value, option: name, range: 1...3_600_000))
            case "channel_max": channelMax = try Self.number(value, option: name, range: 0...65_535)
            case "frame_max": frameMax = try Self.number(value, option: name, range: 4096...Int(Int32.max))
            default:
                throw Self.invalid("unknown option \(name)")
            }
        }
    }

    private static func splitHostPort(_ text: Substring) throws(TransportError) -> (String, Int?) {
        var hostText = text
        var portText: Substring?
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { throw invalid("an IPv6 address lacks its ]") }
            hostText = text[text.index(after: text.startIndex)..<close]
            let after = text[text.index(after: close)...]
            if after.hasPrefix(":") {
                portText = after.dropFirst()
            } else if !after.isEmpty {
                throw invalid("unexpected text after the IPv6 address")
            }
        } else if let colon = text.lastIndex(of: ":") {
            hostText = text[..<colon]
            portText = text[text.index(after: colon)...]
        }
        guard let portText else { return (try decode(hostText, what: "host"), nil) }
        return (try decode(hostText, what: "host"), try number(String(portText), option: "port", range: 1...65_535))
    }

    private static func number(_ text: String, option: String, range: ClosedRange<Int>) throws(TransportError) -> Int {
        guard let value = Int(text), range.contains(value) else {
            throw invalid("\(option) must be a whole number in \(range.lowerBound)...\(range.upperBound), not \(text)")
        }
        return value
    }

    private static func decode(_ text: Substring, what: String) throws(TransportError) -> String {
        guard let decoded = String(text).removingPercentEncoding else {
            throw invalid("the \(what) has an invalid percent-encoding")
        }
        return decoded
    }

    private static func encode(_ text: String) -> String {
        var allowed = CharacterSet.urlUserAllowed
        allowed.remove(charactersIn: ":@/%")
        return text.addingPercentEncoding(withAllowedCharacters: allowed) ?? text
    }

    private static func invalid(_ reason: String) -> TransportError {
        TransportError(.invalidURL, "invalid AMQP URL: \(reason)")
    }
}
