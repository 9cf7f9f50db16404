import FilterEngine
import FilterWeb
import Logging
import ServiceLifecycle

/// The server console of `filterd server` and `filterd all-in-one`: where it listens and where
/// its message log lives (the `web:` section, docs/console.md).
struct ConsoleSettings {
    /// Where the console listens. Default 127.0.0.1:9025.
    var listener: WebListener
    /// The message log. Default `<spool>/messages.sqlite`, 7 days.
    var messageLog: MessageLogConfiguration

    /// Opens the message log, the observer the server must be created with.
    func openMessageLog(server: FilterServerConfiguration, logger: Logger) throws -> MessageLog {
        try MessageLog(configuration: messageLog, server: server, logger: logger)
    }

    /// The features of the console's listener, in the order their routes are added.
    static func features(server: FilterServer, messageLog: MessageLog, logger: Logger) -> [any WebFeature] {
        [ConsoleFeature(server: server, messageLog: messageLog, logger: logger)]
    }

    /// The services to run after the server: the message log's pruning, then the listener
    /// (stopped first at shutdown, as a service group stops in reverse order).
    func services(server: FilterServer, messageLog: MessageLog, logger: Logger) -> [any Service] {
        [messageLog, WebServer(listener: listener, features: Self.features(server: server, messageLog: messageLog, logger: logger), logger: logger)]
    }
}
