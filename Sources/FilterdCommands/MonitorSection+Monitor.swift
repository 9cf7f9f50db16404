import FilterEngine
import FilterQueue
import FilterWeb
import Logging
import Prometheus

extension MonitorSection {
    /// The client monitor's listener (docs/monitor.md) and the observer its client reports to;
    /// `nil` when no `listen` address is configured (the monitor is off).
    /// - Throws: ``ConfigurationError`` for a bad address, a missing broker password (the
    ///   monitor's login), a bad `recent` or an unreadable token file.
    func makeMonitor(
        transport: RabbitMQTransport, owner: String, registry: PrometheusCollectorRegistry, logger: Logger
    ) throws -> (server: WebServer, observer: ClientMonitor)? {
        guard let listen else { return nil }
        let (host, port) = try ServerConfigurationFile.hostAndPort(listen, key: ["monitor", "listen"])
        // Not RabbitMQ's well-known default (an URL without a user gets guest:guest), not empty.
        guard let password = transport.url.password, !password.isEmpty, transport.url.user != "guest" else {
            throw ConfigurationError(
                key: ["monitor"],
                "the monitor's login is the client's broker user and password, and no user of its own with a password is configured")
        }
        let capacity = recent ?? ClientMonitor.defaultCapacity
        guard capacity >= 1 else { throw ConfigurationError(key: ["monitor", "recent"], "must be at least 1, got \(capacity)") }
        let token: String?
        do {
            token = try metricsTokenFile.map(AMQPURL.readPasswordFile)
        } catch {
            throw ConfigurationError(key: ["monitor", "metrics_token_file"], "\(error)")
        }
        let monitor = ClientMonitor(capacity: capacity)
        let features: [any WebFeature] = [
            MonitorFeature(
                monitor: monitor, owner: owner, broker: "\(transport.url)",
                credentials: .init(user: transport.url.user, password: password),
                connection: { transport.connectionState }),
            MetricsFeature(registry: registry, bearerToken: token),
        ]
        let server = WebServer(listener: WebListener(host: host, port: port), features: features, logger: logger)
        return (server, monitor)
    }
}
