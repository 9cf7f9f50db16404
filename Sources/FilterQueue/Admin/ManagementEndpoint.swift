import Foundation

/// Where and as whom to reach the RabbitMQ management HTTP API (plugin `rabbitmq_management`).
///
/// The URL never holds credentials: they are kept apart so that no message, log line or error
/// that shows the URL can show the password. ``description`` names the user, never the password.
public struct ManagementEndpoint: Sendable, Hashable, CustomStringConvertible {
    /// The API's base URL without user information, e.g. `http://127.0.0.1:15672`. A path
    /// prefix (a reverse proxy's `/rabbitmq`) is kept; `/api/...` is appended to it.
    public var url: URL
    /// The management user (needs the `administrator` tag to manage users and policies).
    public var username: String
    /// The management user's password.
    public var password: String

    /// The management plugin's default port.
    public static let defaultPort = 15672

    /// Creates an endpoint.
    /// - Parameters:
    ///   - url: The base URL, without user information.
    ///   - username: The management user.
    ///   - password: Its password.
    public init(url: URL, username: String, password: String) {
        self.url = url
        self.username = username
        self.password = password
    }

    /// The URL and the user, without the password.
    public var description: String { "\(url.absoluteString) as \(username)" }
}

/// What `filterctl`'s broker commands administer: the management endpoint and the virtual host,
/// worked out from an administrator's AMQP URL and/or management URL (docs/broker.md).
public struct ManagementTarget: Sendable, Hashable {
    /// The management API.
    public var endpoint: ManagementEndpoint
    /// The virtual host the filter's exchanges, queues and users live in (default `/`).
    public var virtualHost: String

    /// Creates a target from its parts.
    public init(endpoint: ManagementEndpoint, virtualHost: String = "/") {
        self.endpoint = endpoint
        self.virtualHost = virtualHost
    }

    /// Works the target out from the URLs an operator gives.
    ///
    /// - The virtual host is the AMQP URL's path (`%2F` for `/`; no path means `/`).
    /// - The management URL defaults to `http://<AMQP host>:15672`.
    /// - The user is the management URL's, else the AMQP URL's.
    /// - The password is the management URL's, else `password` (from a file or the
    ///   environment, read by the caller), else the AMQP URL's when the user came from it too.
    ///
    /// - Parameters:
    ///   - amqpURL: An administrator's AMQP URL, `amqp[s]://user[:password]@host[:port][/vhost]`.
    ///   - managementURL: The management API, `http[s]://user[:password]@host[:port][/prefix]`.
    ///   - password: The management password when the URLs carry none.
    /// - Throws: ``BrokerAdminError/Code/invalidURL`` for a malformed URL or when both are
    ///   missing; ``BrokerAdminError/Code/missingCredentials`` when no user or no password is known.
    public init(amqpURL: String?, managementURL: String?, password: String?) throws(BrokerAdminError) {
        let amqp = try amqpURL.map { text throws(BrokerAdminError) in
            try ParsedURL(text, schemes: ["amqp", "amqps"], kind: "AMQP")
        }
        let management = try managementURL.map { text throws(BrokerAdminError) in
            try ParsedURL(text, schemes: ["http", "https"], kind: "management")
        }
        let base: URL
        if let management {
            base = try management.withoutCredentials()
        } else if let amqp {
            var components = URLComponents()
            components.scheme = "http"
            components.host = amqp.components.host
            components.port = ManagementEndpoint.defaultPort
            guard let url = components.url else {
                throw BrokerAdminError(.invalidURL, "cannot derive a management URL from the AMQP URL's host")
            }
            base = url
        } else {
            throw BrokerAdminError(.invalidURL, "give --management URL or --amqp URL")
        }
        let username: String
        var resolvedPassword: String? = management?.password ?? password
        if let user = management?.user {
            username = user
        } else if let user = amqp?.user {
            username = user
            resolvedPassword = resolvedPassword ?? amqp?.password
        } else {
            throw BrokerAdminError(.missingCredentials, "no management user: put it in the URL (http://USER@host:port)")
        }
        guard let resolvedPassword, !resolvedPassword.isEmpty else {
            throw BrokerAdminError(
                .missingCredentials,
                "no password for management user \(username): give it in a password file or the environment"
            )
        }
        endpoint = ManagementEndpoint(url: base, username: username, password: resolvedPassword)
        virtualHost = amqp?.virtualHost ?? "/"
    }
}

/// A URL split into the parts administration needs, with user and password percent-decoded.
private struct ParsedURL {
    var components: URLComponents
    var user: String?
    var password: String?

    init(_ text: String, schemes: Set<String>, kind: String) throws(BrokerAdminError) {
        // The message names the URL only by kind: it may hold a password.
        guard let components = URLComponents(string: text), let scheme = components.scheme?.lowercased(),
            schemes.contains(scheme), let host = components.host, !host.isEmpty
        else {
            throw BrokerAdminError(
                .invalidURL,
                "the \(kind) URL is not valid; expected "
                    + "\(schemes.sorted().joined(separator: " or "))://[user[:password]@]host[:port]"
            )
        }
        self.components = components
        user = components.user.flatMap { $0.isEmpty ? nil : $0 }
        password = components.password
    }

    /// The AMQP virtual host: the path without its leading slash, percent-decoded; `/` when empty.
    var virtualHost: String {
        let path = components.path
        let name = path.hasPrefix("/") ? String(path.dropFirst()) : path
        return name.isEmpty ? "/" : name
    }

    func withoutCredentials() throws(BrokerAdminError) -> URL {
        var copy = components
        copy.user = nil
        copy.password = nil
        copy.query = nil
        copy.fragment = nil
        if copy.path.hasSuffix("/") { copy.path.removeLast() }
        guard let url = copy.url else { throw BrokerAdminError(.invalidURL, "the management URL is not valid") }
        return url
    }
}
