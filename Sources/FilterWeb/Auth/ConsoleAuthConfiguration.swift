import FilterCore
import FilterQueue

/// How the server console authenticates: where credentials come from, how long sessions live,
/// how cookies are marked, and how failed logins are limited. See docs/console-auth.md.
///
/// Every credential source is off by default; with none on, nobody can log in.
public struct ConsoleAuthConfiguration: Sendable {
    /// Whether the session cookies carry the `Secure` attribute (`cookie_secure`).
    public struct CookieSecurity: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
        /// `auto`, `always` or `never`.
        public var rawValue: String
        /// A policy by name; `nil` for an unknown name.
        public init?(rawValue: String) {
            guard [Self.auto, Self.always, Self.never].contains(where: { $0.rawValue == rawValue }) else { return nil }
            self.rawValue = rawValue
        }

        private init(name: String) {
            rawValue = name
        }
        /// The name.
        public var description: String { rawValue }

        /// `Secure` unless the listener binds a loopback address (plain HTTP on loopback is the
        /// only place the console may run without TLS).
        public static let auto = CookieSecurity(name: "auto")
        /// Always `Secure`: the console is reached through a TLS proxy.
        public static let always = CookieSecurity(name: "always")
        /// Never `Secure` (a browser then also sends the cookie over plain HTTP).
        public static let never = CookieSecurity(name: "never")
    }

    /// How many failed logins are tolerated before further attempts get 429.
    public struct RateLimit: Sendable, Hashable {
        /// Failed logins from one client address within ``window`` before it is refused; 0
        /// turns this limit off. Default 5.
        public var failuresPerAddress: Int
        /// Failed logins for one user name within ``window`` before it is refused; 0 turns this
        /// limit off. Default 5.
        public var failuresPerUser: Int
        /// The sliding window failures are counted in. Default 5 minutes.
        public var window: Duration
        /// The most client addresses and user names tracked at once; beyond it the oldest are
        /// forgotten, so a flood of made-up names cannot exhaust memory. Default 10000.
        public var maximumTrackedKeys: Int

        /// Creates a limit; the defaults are 5 failures per address and per user in 5 minutes.
        public init(
            failuresPerAddress: Int = 5, failuresPerUser: Int = 5, window: Duration = .seconds(300),
            maximumTrackedKeys: Int = 10_000
        ) {
            self.failuresPerAddress = failuresPerAddress
            self.failuresPerUser = failuresPerUser
            self.window = window
            self.maximumTrackedKeys = maximumTrackedKeys
        }
    }

    /// The listener the console runs on: its host decides ``CookieSecurity/auto``.
    public var listener: WebListener
    /// The `Secure` attribute of the cookies (`cookie_secure`). Default ``CookieSecurity/auto``.
    public var cookieSecure: CookieSecurity
    /// A session ends after this long without a request (sliding). Default 30 minutes.
    public var idleTimeout: Duration
    /// A session ends this long after login, however busy. Default 12 hours.
    public var absoluteLifetime: Duration
    /// How long a login form (its pre-session CSRF token) stays usable. Default 1 hour.
    public var loginFormLifetime: Duration
    /// The admins password file (role admin); `nil` turns the source off. Default `nil`.
    public var adminPasswordFile: String?
    /// The users password file (role user, owner = the canonical address); `nil` turns the
    /// source off. Default `nil`.
    public var userPasswordFile: String?
    /// The broker whose AMQP login checks user credentials (host, port, virtual host, TLS; its
    /// user and password are ignored); `nil` turns broker login off. Default `nil`.
    public var brokerLogin: AMQPURL?
    /// The owner canonicalization applied to the names of the users password file.
    public var ownerResolver: OwnerResolver
    /// Failed-login limits.
    public var rateLimit: RateLimit
    /// Origins besides the request's own (`http(s)://` + its `Host`) that unsafe requests may
    /// come from, e.g. `https://mail.example.com` when a TLS proxy rewrites `Host`. Default none.
    public var trustedOrigins: [String]
    /// The largest form body read to find `csrf_token` or the login fields, in bytes. Default 1 MiB.
    public var maximumFormBytes: Int

    /// Creates a configuration with the documented defaults.
    public init(
        listener: WebListener = WebListener(),
        cookieSecure: CookieSecurity = .auto,
        idleTimeout: Duration = .seconds(30 * 60),
        absoluteLifetime: Duration = .seconds(12 * 3600),
        loginFormLifetime: Duration = .seconds(3600),
        adminPasswordFile: String? = nil,
        userPasswordFile: String? = nil,
        brokerLogin: AMQPURL? = nil,
        ownerResolver: OwnerResolver = OwnerResolver(),
        rateLimit: RateLimit = RateLimit(),
        trustedOrigins: [String] = [],
        maximumFormBytes: Int = 1 << 20
    ) {
        self.listener = listener
        self.cookieSecure = cookieSecure
        self.idleTimeout = idleTimeout
        self.absoluteLifetime = absoluteLifetime
        self.loginFormLifetime = loginFormLifetime
        self.adminPasswordFile = adminPasswordFile
        self.userPasswordFile = userPasswordFile
        self.brokerLogin = brokerLogin
        self.ownerResolver = ownerResolver
        self.rateLimit = rateLimit
        self.trustedOrigins = trustedOrigins
        self.maximumFormBytes = maximumFormBytes
    }

    /// Whether cookies get `Secure` under this configuration.
    public var cookiesAreSecure: Bool {
        switch cookieSecure {
        case .always: return true
        case .never: return false
        default: return !Self.isLoopback(listener.host)
        }
    }

    /// Whether `host` names a loopback address (`localhost`, 127.0.0.0/8, `::1`).
    static func isLoopback(_ host: String) -> Bool {
        let bare = host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
        let lowered = bare.lowercased()
        if lowered == "localhost" || lowered == "::1" || lowered == "0:0:0:0:0:0:0:1" { return true }
        let octets = lowered.split(separator: ".", omittingEmptySubsequences: false)
        return octets.count == 4 && octets[0] == "127" && octets.allSatisfy { UInt8($0) != nil }
    }
}
