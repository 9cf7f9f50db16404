/// Where one of filterd's web listeners (the server console, the client monitor) binds.
///
/// The default host is the loopback address: nothing listens beyond this machine unless the
/// operator names another address.
public struct WebListener: Sendable, Hashable {
    /// The address to bind. Default `127.0.0.1`.
    public var host: String
    /// The TCP port; 0 picks a free one (tests). Default 9025 for the server console.
    public var port: Int

    /// The server console's default port.
    public static let defaultServerPort = 9025
    /// The client monitor's default port.
    public static let defaultClientPort = 9026

    /// Creates a listener address.
    public init(host: String = "127.0.0.1", port: Int = WebListener.defaultServerPort) {
        self.host = host
        self.port = port
    }
}
