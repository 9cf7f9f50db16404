import ArgumentParser
import FilterEngine
import Logging
import ServiceLifecycle
import UnixSignals

@main
struct Filterd: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "filterd",
        abstract: "A user-aware content filter for Postfix.",
        subcommands: [ServerCommand.self]
    )
}

struct ServerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "server",
        abstract: "Receive mail from Postfix, spool it durably, filter it and reinject it."
    )

    @Option(name: .long, help: "A YAML configuration file; flags override it.")
    var config: String?

    @Option(name: .long, help: "Where to listen for Postfix, HOST:PORT (default 127.0.0.1:10024).")
    var listen: String?

    @Option(name: .long, help: "Where to reinject filtered mail, HOST:PORT (default 127.0.0.1:10025).")
    var nextHop: String?

    @Option(name: .long, help: "The spool directory (default /var/spool/filterd).")
    var spool: String?

    @Option(name: .long, help: "The host name in the greeting, Received fields and DSNs (default localhost).")
    var hostname: String?

    @Option(name: .long, help: "trace, debug, info, notice, warning, error or critical (default info).")
    var logLevel: String?

    @Option(name: .long, help: "The broker, amqp[s]://USER@HOST:PORT/VHOST; without it every recipient gets the default action.")
    var amqp: String?

    @Option(name: .long, help: "This server's id: its reply queue is mailfilter.server.ID (default: the host name).")
    var serverId: String?

    @Option(name: .long, help: "Seconds to wait for an owner's reply before the fallback action (default 60).")
    var deadline: Double?

    func run() async throws {
        var file = try config.map(ServerConfigurationFile.load) ?? ServerConfigurationFile()
        file.override(
            listen: listen, nextHop: nextHop, spool: spool, hostname: hostname, logLevel: logLevel,
            amqp: amqp, serverID: serverId, deadline: deadline)
        let configuration = try file.makeConfiguration()
        let level = try file.resolvedLogLevel()
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "filterd.server")
        let server = try FilterServer(configuration: configuration, logger: logger)
        let group = ServiceGroup(
            configuration: .init(
                services: [.init(service: server)],
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger))
        try await group.run()
    }
}
