import FilterCore
import FilterEngine
import FilterQueue
import FilterSMTP
import FilterWeb
import Foundation
import Logging
import NIOCore
import Yams

/// The YAML configuration file of `filterd server`; every key is optional and documented in
/// docs/configuration.md.
struct ServerConfigurationFile: Decodable {
    var hostname: String?
    var listen: String?
    var nextHop: String?
    var spool: String?
    var logLevel: String?
    var smtp: SMTP?
    var delivery: Delivery?
    var amqp: String?
    var amqpPasswordFile: String?
    var serverID: String?
    var filtering: Filtering?
    var quarantine: Quarantine?
    var events: Events?
    var web: Web?
    var sendAPI: SendAPIConfigurationFile?
    /// Only `filterd all-in-one` runs clients.
    var clients: [ClientSection]?

    struct SMTP: Codable {
        var maxMessageSize: Int?
        var maxRecipients: Int?
        var maxSessions: Int?
        var maxHops: Int?
        var maxLineLength: Int?
        var commandTimeout: Double?
        var dataTimeout: Double?
        var allowedPeers: [String]?
        var xforwardPeers: [String]?

        enum CodingKeys: String, CodingKey, CaseIterable {
            case maxMessageSize = "max_message_size", maxRecipients = "max_recipients"
            case maxSessions = "max_sessions", maxHops = "max_hops", maxLineLength = "max_line_length"
            case commandTimeout = "command_timeout", dataTimeout = "data_timeout"
            case allowedPeers = "allowed_peers", xforwardPeers = "xforward_peers"
        }
    }

    struct Delivery: Codable {
        var concurrency: Int?
        var minBackoff: Double?
        var maxBackoff: Double?
        var maxQueueLifetime: Double?

        enum CodingKeys: String, CodingKey, CaseIterable {
            case concurrency, minBackoff = "min_backoff", maxBackoff = "max_backoff"
            case maxQueueLifetime = "max_queue_lifetime"
        }
    }

    struct Quarantine: Codable {
        var enabled: Bool?
        var directory: String?
        var retention: Double?
        var expiryInterval: Double?
        var digestInterval: Double?
        var digestFrom: String?

        enum CodingKeys: String, CodingKey, CaseIterable {
            case enabled, directory, retention
            case expiryInterval = "expiry_interval", digestInterval = "digest_interval", digestFrom = "digest_from"
        }
    }

    struct Events: Codable {
        var maxPending: Int?
        var concurrency: Int?
        var shutdownGrace: Double?

        enum CodingKeys: String, CodingKey, CaseIterable {
            case concurrency, maxPending = "max_pending", shutdownGrace = "shutdown_grace"
        }
    }

    struct Web: Codable {
        var listen: String?
        var messageLog: String?
        var messageLogRetention: Double?
        var adminsFile: String?
        var usersFile: String?
        var brokerLogin: Bool?
        var cookieSecure: String?
        var idleTimeout: Double?
        var sessionLifetime: Double?
        var loginFailuresPerAddress: Int?
        var loginFailuresPerUser: Int?
        var loginWindow: Double?
        var trustedOrigins: [String]?
        var metricsTokenFile: String?

        enum CodingKeys: String, CodingKey, CaseIterable {
            case listen, messageLog = "message_log", messageLogRetention = "message_log_retention"
            case adminsFile = "admins_file", usersFile = "users_file", brokerLogin = "broker_login"
            case cookieSecure = "cookie_secure", idleTimeout = "idle_timeout", sessionLifetime = "session_lifetime"
            case loginFailuresPerAddress = "login_failures_per_address", loginFailuresPerUser = "login_failures_per_user"
            case loginWindow = "login_window", trustedOrigins = "trusted_origins", metricsTokenFile = "metrics_token_file"
        }
    }

    struct Filtering: Codable {
        var deadline: Double?
        var defaultAction: String?
        var fallbackAction: String?
        var offlinePolicy: FilteringConfiguration.OfflinePolicy?
        var subscriptionCache: Double?
        var maxRequestBytes: Int?
        var recipientDelimiters: String?
        var aliases: [String: String]?
        var owners: [String: Owner]?
        var actions: ActionPolicySection?
        var headerFields: HeaderFields?

        struct Owner: Codable {
            var deadline: Double?
            var offlinePolicy: FilteringConfiguration.OfflinePolicy?
            var defaultAction: String?
            var fallbackAction: String?
            var actions: ActionPolicySection?

            enum CodingKeys: String, CodingKey, CaseIterable {
                case deadline, actions, offlinePolicy = "offline_policy"
                case defaultAction = "default_action", fallbackAction = "fallback_action"
            }
        }

        struct HeaderFields: Codable {
            var maxFields: Int?
            var maxLength: Int?
            enum CodingKeys: String, CodingKey, CaseIterable { case maxFields = "max_fields", maxLength = "max_length" }
        }

        enum CodingKeys: String, CodingKey, CaseIterable {
            case deadline, aliases, owners
            case defaultAction = "default_action", fallbackAction = "fallback_action"
            case offlinePolicy = "offline_policy", subscriptionCache = "subscription_cache"
            case maxRequestBytes = "max_request_bytes", recipientDelimiters = "recipient_delimiters"
            case actions, headerFields = "header_fields"
        }
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case hostname, listen, spool, smtp, delivery, amqp, filtering, clients, quarantine, events, web
        case nextHop = "next_hop"
        case logLevel = "log_level"
        case amqpPasswordFile = "amqp_password_file"
        case serverID = "server_id"
        case sendAPI = "send_api"
    }

    /// The file this configuration was read from, for error messages with lines.
    var source: (path: String, yaml: String)?

    static func load(_ path: String) throws -> ServerConfigurationFile {
        var file = try YAMLFile.decode(ServerConfigurationFile.self, path: path, schema: schema)
        file.source = (path, (try? String(contentsOfFile: path, encoding: .utf8)) ?? "")
        return file
    }

    mutating func override(
        listen: String?, nextHop: String?, spool: String?, hostname: String?, logLevel: String?,
        amqp: String?, serverID: String?, deadline: Double?, denyPolicy: String?, web: String? = nil
    ) {
        self.amqp = amqp ?? self.amqp
        if let web {
            self.web = self.web ?? Web()
            self.web?.listen = web
        }
        if let denyPolicy {
            var filtering = self.filtering ?? Filtering()
            var actions = filtering.actions ?? ActionPolicySection()
            actions.deny = denyPolicy
            filtering.actions = actions
            self.filtering = filtering
        }
        self.serverID = serverID ?? self.serverID
        if let deadline {
            self.filtering = self.filtering ?? Filtering()
            self.filtering?.deadline = deadline
        }
        self.listen = listen ?? self.listen
        self.nextHop = nextHop ?? self.nextHop
        self.spool = spool ?? self.spool
        self.hostname = hostname ?? self.hostname
        self.logLevel = logLevel ?? self.logLevel
    }

    func resolvedLogLevel() throws -> Logger.Level {
        try YAMLFile.logLevel(logLevel)
    }

    /// The server's configuration; a bad value is reported with the file, line and key.
    func makeConfiguration() throws -> FilterServerConfiguration {
        do {
            return try makeConfigurationFromKeys()
        } catch let error as ConfigurationError {
            guard let source else { throw error }
            throw YAMLFile.located(error, path: source.path, yaml: source.yaml)
        }
    }

    private func makeConfigurationFromKeys() throws -> FilterServerConfiguration {
        var configuration = FilterServerConfiguration(hostname: hostname ?? "localhost")
        if let listen {
            let (host, port) = try Self.hostAndPort(listen, key: ["listen"])
            configuration.smtp.host = host
            configuration.smtp.port = port
        }
        if let nextHop {
            let (host, port) = try Self.hostAndPort(nextHop, key: ["next_hop"])
            configuration.nextHop = .init(host: host, port: port)
        }
        if let spool { configuration.spoolDirectory = spool }
        if let smtp {
            if let value = smtp.maxMessageSize { configuration.smtp.session.maximumMessageSize = try Self.positive(value, ["smtp", "max_message_size"]) }
            if let value = smtp.maxRecipients { configuration.smtp.session.maximumRecipients = try Self.positive(value, ["smtp", "max_recipients"]) }
            if let value = smtp.maxHops { configuration.smtp.session.maximumHops = try Self.positive(value, ["smtp", "max_hops"]) }
            if let value = smtp.maxSessions { configuration.smtp.maximumSessions = try Self.positive(value, ["smtp", "max_sessions"]) }
            if let value = smtp.maxLineLength { configuration.smtp.maximumCommandLineLength = try Self.atLeast(512, value, ["smtp", "max_line_length"]) }
            if let value = smtp.commandTimeout { configuration.smtp.commandTimeout = try Self.duration(value, ["smtp", "command_timeout"]) }
            if let value = smtp.dataTimeout { configuration.smtp.dataTimeout = try Self.duration(value, ["smtp", "data_timeout"]) }
            if let value = smtp.allowedPeers { configuration.smtp.allowedPeers = try Self.ranges(value, ["smtp", "allowed_peers"]) }
            if let value = smtp.xforwardPeers { configuration.smtp.xforwardPeers = try Self.ranges(value, ["smtp", "xforward_peers"]) }
        }
        if let delivery {
            if let value = delivery.concurrency { configuration.delivery.concurrency = try Self.positive(value, ["delivery", "concurrency"]) }
            if let value = delivery.minBackoff { configuration.delivery.minimumBackoff = value }
            if let value = delivery.maxBackoff { configuration.delivery.maximumBackoff = value }
            if let value = delivery.maxQueueLifetime { configuration.delivery.maximumQueueLifetime = value }
        }
        configuration.filtering = try makeFilteringConfiguration(hostname: configuration.hostname)
        if let quarantine {
            let key = ["quarantine"]
            if let value = quarantine.enabled { configuration.quarantine.isEnabled = value }
            if let value = quarantine.directory { configuration.quarantine.directory = value }
            if let value = quarantine.retention { configuration.quarantine.retention = try Self.seconds(value, key + ["retention"]) }
            if let value = quarantine.expiryInterval {
                configuration.quarantine.expiryInterval = try Self.seconds(value, key + ["expiry_interval"])
            }
            if let value = quarantine.digestInterval {
                guard value >= 0 else { throw ConfigurationError(key: key + ["digest_interval"], "must be 0 (no digests) or a number of seconds") }
                configuration.quarantine.digestInterval = .milliseconds(Int64(value * 1000))
            }
            if let value = quarantine.digestFrom {
                guard DeliveryAddress.isValid(value) else { throw ConfigurationError(key: key + ["digest_from"], "\(value) is not a valid address") }
                configuration.quarantine.digestFrom = value
            }
        }
        if let events {
            let key = ["events"]
            if let value = events.maxPending { configuration.events.maximumPending = try Self.positive(value, key + ["max_pending"]) }
            if let value = events.concurrency { configuration.events.concurrency = try Self.positive(value, key + ["concurrency"]) }
            if let value = events.shutdownGrace {
                configuration.events.shutdownGrace = try Self.seconds(value, key + ["shutdown_grace"])
            }
        }
        return configuration
    }

    /// The server console's listener, message log, login and send API; `nil` (no web listener)
    /// unless the file has a `web:` section or `--web` was given.
    /// - Parameters:
    ///   - server: The server's configuration: its spool holds the message log by default and
    ///     its owner resolver names a users-file login's owner.
    ///   - broker: The server's broker, for `broker_login` (its host, port, virtual host and TLS).
    func makeConsoleSettings(server: FilterServerConfiguration, broker: AMQPURL?) throws -> ConsoleSettings? {
        do {
            let sendAPI = try sendAPI?.makeConfiguration(hostname: hostname ?? "localhost")
            guard let web else {
                guard sendAPI == nil else {
                    throw ConfigurationError(key: ["send_api", "enabled"], "the send API runs on the web listener: add a web: section or --web")
                }
                return nil
            }
            var listener = WebListener()
            if let listen = web.listen {
                (listener.host, listener.port) = try Self.hostAndPort(listen, key: ["web", "listen"])
            }
            var messageLog = MessageLogConfiguration(path: web.messageLog ?? server.spoolDirectory + "/messages.sqlite")
            if let value = web.messageLogRetention {
                messageLog.retention = try Self.seconds(value, ["web", "message_log_retention"])
            }
            let metricsToken: String?
            do {
                metricsToken = try web.metricsTokenFile.map(AMQPURL.readPasswordFile)
            } catch {
                throw ConfigurationError(key: ["web", "metrics_token_file"], "\(error)")
            }
            return ConsoleSettings(
                listener: listener, messageLog: messageLog,
                authentication: try web.makeAuthentication(listener: listener, owners: server.filtering.owners, broker: broker),
                sendAPI: sendAPI, metricsToken: metricsToken)
        } catch let error as ConfigurationError {
            guard let source else { throw error }
            throw YAMLFile.located(error, path: source.path, yaml: source.yaml)
        }
    }

    /// How owners are asked; the server id defaults to the host name.
    func makeFilteringConfiguration(hostname: String) throws -> FilteringConfiguration {
        var configuration = FilteringConfiguration(serverID: serverID ?? hostname)
        guard let filtering else { return configuration }
        if let value = filtering.deadline { configuration.deadline = try Self.seconds(value, ["filtering", "deadline"]) }
        if let value = filtering.defaultAction { configuration.defaultAction = try Self.action(value, ["filtering", "default_action"]) }
        if let value = filtering.fallbackAction { configuration.fallbackAction = try Self.action(value, ["filtering", "fallback_action"]) }
        if let value = filtering.offlinePolicy { configuration.offlinePolicy = value }
        if let value = filtering.subscriptionCache { configuration.subscriptionCacheTime = try Self.seconds(value, ["filtering", "subscription_cache"]) }
        if let value = filtering.maxRequestBytes { configuration.maximumRequestBytes = try Self.positive(value, ["filtering", "max_request_bytes"]) }
        if let value = filtering.recipientDelimiters { configuration.owners.delimiters = Set(value) }
        if let value = filtering.aliases { configuration.owners.aliases = value }
        if let section = filtering.actions { configuration.actions = try section.makePolicy(key: ["filtering", "actions"]) }
        if let fields = filtering.headerFields {
            if let value = fields.maxFields { configuration.headerFields.maximumFields = try Self.positive(value, ["filtering", "header_fields", "max_fields"]) }
            if let value = fields.maxLength {
                configuration.headerFields.maximumFieldLength = try Self.atLeast(16, value, ["filtering", "header_fields", "max_length"])
            }
        }
        for (owner, policy) in filtering.owners ?? [:] {
            let key = ["filtering", "owners", owner]
            configuration.ownerPolicies[configuration.owners.owner(of: owner)] = .init(
                deadline: try policy.deadline.map { try Self.seconds($0, key + ["deadline"]) },
                offlinePolicy: policy.offlinePolicy,
                defaultAction: try policy.defaultAction.map { try Self.action($0, key + ["default_action"]) },
                fallbackAction: try policy.fallbackAction.map { try Self.action($0, key + ["fallback_action"]) },
                actions: try policy.actions?.makeOverride(key: key + ["actions"]))
        }
        return configuration
    }

    static func seconds(_ value: Double, _ key: [String]) throws -> Duration {
        guard value > 0 else { throw ConfigurationError(key: key, "must be a positive number of seconds") }
        return .milliseconds(Int64(value * 1000))
    }

    /// Actions the server can apply without a client's reply: `pass`, `deny`, `spam`,
    /// `quarantine` (`forward` needs addresses, `pending` an owner to ask again, `virus` a finding).
    private static func action(_ text: String, _ key: [String]) throws -> FilterAction {
        let action = FilterAction(rawValue: text.lowercased())
        guard [.pass, .deny, .spam, .quarantine].contains(action) else {
            throw ConfigurationError(key: key, "\(text) is not an action the server applies on its own; use pass, deny, spam or quarantine")
        }
        return action
    }

    /// `HOST:PORT` (`[IPV6]:PORT`) as host and port; errors name `key`.
    static func hostAndPort(_ text: String, key: [String]) throws -> (String, Int) {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]), (0...65535).contains(port)
        else { throw ConfigurationError(key: key, "expected HOST:PORT, got \(text)") }
        var host = String(text[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard !host.isEmpty else { throw ConfigurationError(key: key, "the host is missing in \(text)") }
        return (host, port)
    }

    static func positive(_ value: Int, _ key: [String]) throws -> Int {
        try atLeast(1, value, key)
    }

    private static func atLeast(_ minimum: Int, _ value: Int, _ key: [String]) throws -> Int {
        guard value >= minimum else { throw ConfigurationError(key: key, "must be at least \(minimum), got \(value)") }
        return value
    }

    private static func duration(_ seconds: Double, _ key: [String]) throws -> TimeAmount {
        guard seconds > 0 else { throw ConfigurationError(key: key, "must be a positive number of seconds") }
        return .milliseconds(Int64(seconds * 1000))
    }

    private static func ranges(_ texts: [String], _ key: [String]) throws -> [PeerAddressRange] {
        try texts.map { text in
            guard let range = PeerAddressRange(text) else { throw ConfigurationError(key: key, "\(text) is not an address or CIDR network") }
            return range
        }
    }
}

/// A configuration problem, said so that the operator can fix the file or flag: the file and
/// line where it is known, the key, and what is wrong.
struct ConfigurationError: Error, CustomStringConvertible {
    /// The key's path from the top of the file, when the problem is one key's value.
    var key: [String]?
    /// What is wrong.
    var message: String
    /// The file, once known.
    var file: String?
    /// The line of the key in the file, once known.
    var line: Int?

    /// A problem that is not about one key.
    init(_ message: String) { self.message = message }

    /// A problem with the value of `key`.
    init(key: [String], _ message: String) {
        self.key = key
        self.message = message
    }

    var description: String {
        var place = file.map { line.map { "\(file ?? ""):\($0): " } ?? "\($0): " } ?? ""
        if let key { place += key.joined(separator: ".") + ": " }
        return place + message
    }
}

/// Reading a server's configuration file outside `filterd`, for tools such as `filterctl`.
public enum ServerConfigurationFiles {
    /// The configuration `filterd server --config path` runs with, flags aside.
    /// - Throws: an error naming the file, line and key of a bad value.
    public static func load(_ path: String) throws -> FilterServerConfiguration {
        try ServerConfigurationFile.load(path).makeConfiguration()
    }
}

extension ServerConfigurationFile.Web {
    /// Who may log in to the console and how sessions behave (docs/console-auth.md).
    func makeAuthentication(listener: WebListener, owners: OwnerResolver, broker: AMQPURL?) throws -> ConsoleAuthConfiguration {
        var configuration = ConsoleAuthConfiguration(
            listener: listener, adminPasswordFile: adminsFile, userPasswordFile: usersFile, ownerResolver: owners,
            trustedOrigins: trustedOrigins ?? [])
        if let value = cookieSecure {
            guard let security = ConsoleAuthConfiguration.CookieSecurity(rawValue: value) else {
                throw ConfigurationError(key: ["web", "cookie_secure"], "\(value) is not one of auto, always, never")
            }
            configuration.cookieSecure = security
        }
        if brokerLogin == true {
            guard let broker else {
                throw ConfigurationError(key: ["web", "broker_login"], "needs the server's broker (amqp: or --amqp) to check logins against")
            }
            configuration.brokerLogin = broker
        }
        if let value = idleTimeout { configuration.idleTimeout = try ServerConfigurationFile.seconds(value, ["web", "idle_timeout"]) }
        if let value = sessionLifetime {
            configuration.absoluteLifetime = try ServerConfigurationFile.seconds(value, ["web", "session_lifetime"])
        }
        if let value = loginWindow { configuration.rateLimit.window = try ServerConfigurationFile.seconds(value, ["web", "login_window"]) }
        if let value = loginFailuresPerAddress {
            configuration.rateLimit.failuresPerAddress = try Self.notNegative(value, ["web", "login_failures_per_address"])
        }
        if let value = loginFailuresPerUser {
            configuration.rateLimit.failuresPerUser = try Self.notNegative(value, ["web", "login_failures_per_user"])
        }
        return configuration
    }

    private static func notNegative(_ value: Int, _ key: [String]) throws -> Int {
        guard value >= 0 else { throw ConfigurationError(key: key, "must be 0 (no limit) or more") }
        return value
    }
}
