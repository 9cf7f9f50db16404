import FilterEngine
import FilterWeb
import Logging
import ServiceLifecycle

/// The web listener of `filterd server` and `filterd all-in-one`: where it listens, where the
/// console's message log lives, who may log in (the `web:` section, docs/console.md and
/// docs/console-auth.md) and the send API (`send_api:`, docs/send-api.md).
struct ConsoleSettings {
    /// Where the console listens. Default 127.0.0.1:9025.
    var listener: WebListener
    /// The message log. Default `<spool>/messages.sqlite`, 7 days.
    var messageLog: MessageLogConfiguration
    /// Login sources, sessions and the failed-login limit.
    var authentication: ConsoleAuthConfiguration
    /// The send API, when `send_api.enabled` is true.
    var sendAPI: SendAPIConfiguration?
    /// The bearer token `/metrics` requires (`metrics_token_file`); open without one.
    var metricsToken: String?

    /// Opens the message log, the observer the server must be created with.
    func openMessageLog(server: FilterServerConfiguration, logger: Logger) throws -> MessageLog {
        try MessageLog(configuration: messageLog, server: server, logger: logger)
    }

    /// The features of the listener, in the order their routes are added: login (with the
    /// session middleware in front of every route), the console pages, `/metrics`, the send API.
    /// - Throws: ``SendAPIError`` when the send API's key or secret file cannot be read.
    func features(server: FilterServer, messageLog: MessageLog, logger: Logger) throws -> [any WebFeature] {
        var features: [any WebFeature] = [
            ConsoleAuthentication(configuration: authentication, logger: logger),
            ConsoleFeature(server: server, messageLog: messageLog, logger: logger),
            MetricsFeature(registry: FilterMetricsSystem.bootstrap(), bearerToken: metricsToken),
        ]
        if let sendAPI {
            features.append(try SendAPIFeature(configuration: sendAPI, logger: logger))
        }
        return features
    }

    /// The services to run, in order: the message log, then `running` (the server or the
    /// embedded filter, whose console this is), then the listener. A service group stops them in
    /// reverse order, so the listener stops first and the message log last, after the server's
    /// final outcomes are queued, and writes them.
    /// - Throws: what ``features(server:messageLog:logger:)`` throws.
    func services(
        around running: any Service, server: FilterServer, messageLog: MessageLog, logger: Logger
    ) throws -> [any Service] {
        [
            messageLog, running,
            WebServer(listener: listener, features: try features(server: server, messageLog: messageLog, logger: logger), logger: logger),
        ]
    }
}
