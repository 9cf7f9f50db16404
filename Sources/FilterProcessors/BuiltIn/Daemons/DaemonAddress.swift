/// Where a daemon listens: `host:port` (`[v6-address]:port` for IPv6) or the path of a unix
/// domain socket (anything starting with `/`).
public struct DaemonAddress: Sendable, Hashable, CustomStringConvertible {
    enum Endpoint: Sendable, Hashable {
        case tcp(host: String, port: Int)
        case unix(path: String)
    }

    let endpoint: Endpoint

    /// Parses an address as written in a configuration file.
    /// - Parameters:
    ///   - text: `host:port`, `[::1]:port` or `/path/to/socket`.
    ///   - key: The option it comes from, for the error message.
    /// - Throws: ``ProcessorConfigurationError`` when it is neither.
    public init(_ text: String, key: String = "address") throws(ProcessorConfigurationError) {
        if text.hasPrefix("/") {
            endpoint = .unix(path: text)
            return
        }
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]), (1...65535).contains(port) else {
            throw ProcessorConfigurationError("\(key): \"\(text)\" is neither host:port nor the /path of a unix socket")
        }
        var host = text[..<colon]
        if host.hasPrefix("["), host.hasSuffix("]") {
            host = host.dropFirst().dropLast()
        }
        guard !host.isEmpty, !host.contains(where: { $0 == "[" || $0 == "]" || $0 == "/" || $0.isWhitespace }) else {
            throw ProcessorConfigurationError("\(key): \"\(text)\" has no valid host before the port")
        }
        endpoint = .tcp(host: String(host), port: port)
    }

    /// A TCP address.
    public static func tcp(host: String, port: Int) -> DaemonAddress {
        DaemonAddress(endpoint: .tcp(host: host, port: port))
    }

    /// A unix domain socket.
    public static func unix(path: String) -> DaemonAddress {
        DaemonAddress(endpoint: .unix(path: path))
    }

    private init(endpoint: Endpoint) {
        self.endpoint = endpoint
    }

    public var description: String {
        switch endpoint {
        case .tcp(let host, let port): host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
        case .unix(let path): path
        }
    }
}
