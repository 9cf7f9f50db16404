import ArgumentParser
import FilterCore
import FilterEngine
import FilterProcessors
import FilterQueue
import FilterWeb
import Foundation
import Logging
import ServiceLifecycle
import UnixSignals

/// The `filterd` command line as a library: the `filterd` executable is one call to
/// ``main(processors:)``, and an application with processors of its own builds the same
/// program with its registry (Examples/CustomProcessor).
public enum Filterd {
    /// Parses the command line and runs `filterd server`, `client` or `all-in-one`; exits the
    /// process with the command's status.
    /// - Parameter processors: The processor types client pipelines may name.
    public static func main(processors: ProcessorRegistry = .builtIn) async {
        await ProcessorTypes.$registry.withValue(processors) {
            await FilterdCommand.main()
        }
    }
}

/// The processor types of this run of `filterd`, for decoding pipelines.
enum ProcessorTypes {
    @TaskLocal static var registry = ProcessorRegistry.builtIn
}

struct FilterdCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "filterd",
        abstract: "A user-aware content filter for Postfix.",
        subcommands: [ServerCommand.self, ClientCommand.self, AllInOneCommand.self]
    )
}

struct ServerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "server",
        abstract: "Receive mail from Postfix, spool it durably, filter it and reinject it."
    )

    @OptionGroup var options: ServerOptions

    @Option(name: .long, help: "The broker, amqp[s]://USER@HOST:PORT/VHOST; without it every recipient gets the default action.")
    var amqp: String?

    @Option(name: .long, help: "This server's id: its reply queue is mailfilter.server.ID (default: the host name).")
    var serverId: String?

    @Option(name: .long, help: "Seconds to wait for an owner's reply before the fallback action (default 60).")
    var deadline: Double?

    @Option(name: .long, help: "A file holding the broker password (default: $FILTERD_AMQP_PASSWORD).")
    var amqpPasswordFile: String?

    func run() async throws {
        let file = try options.load(amqp: amqp, serverID: serverId, deadline: deadline)
        guard file.clients == nil else {
            throw ConfigurationError("clients: only filterd all-in-one runs client pipelines; filterd server asks them over --amqp")
        }
        let configuration = try file.makeConfiguration()
        let brokerURL = try file.amqp.map { try BrokerURL.resolve($0, passwordFile: amqpPasswordFile ?? file.amqpPasswordFile) }
        let console = try file.makeConsoleSettings(server: configuration, broker: brokerURL)
        let logger = try Self.bootstrapLogging(level: file.resolvedLogLevel(), label: "filterd.server")
        FilterMetricsSystem.bootstrap()
        var transport: (any FilterTransport)?
        if let brokerURL {
            let broker = RabbitMQTransport(url: brokerURL, logger: logger)
            do {
                try await broker.connect()
            } catch {
                // Mail must keep flowing while the broker is away: the transport keeps trying,
                // and owners get the fallback action until it is back. A wrong password or
                // missing permission, by contrast, is a configuration error and stops filterd.
                guard error.code == .connectionFailed || error.code == .timedOut else { throw error }
                logger.warning("Broker unreachable at start; owners get the fallback action until it is back", metadata: [
                    "broker": "\(broker.url)", "error": "\(error)",
                ])
            }
            transport = broker
        }
        let messageLog = try console?.openMessageLog(server: configuration, logger: logger)
        let server = try FilterServer(
            configuration: configuration, transport: transport, observers: messageLog.map { [$0] } ?? [], logger: logger)
        var services: [any Service] = [server]
        if let console, let messageLog {
            services = try console.services(around: server, server: server, messageLog: messageLog, logger: logger)
        }
        try await Self.runUntilSignalled(services, logger: logger)
    }

    /// Sends log lines at `level` and above to standard error.
    static func bootstrapLogging(level: Logger.Level, label: String) -> Logger {
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        return Logger(label: label)
    }

    /// Runs services until SIGTERM or SIGINT, then shuts them down gracefully.
    static func runUntilSignalled(_ services: [any Service], logger: Logger) async throws {
        let group = ServiceGroup(
            configuration: .init(
                services: services.map { .init(service: $0) },
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger))
        try await group.run()
    }
}

struct ClientCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "client",
        abstract: "Answer one owner's filter requests from the broker with a processor pipeline."
    )

    @Option(name: .long, help: "A YAML configuration file (the pipeline lives there); flags override it.")
    var config: String?

    @Option(name: .long, help: "The broker, amqp[s]://USER@HOST:PORT/VHOST, logged in as the owner's broker user.")
    var amqp: String?

    @Option(name: .long, help: "A file holding the broker password (default: $FILTERD_AMQP_PASSWORD).")
    var amqpPasswordFile: String?

    @Option(name: .long, help: "The owner's address, whose queue this client consumes.")
    var address: String?

    @Option(name: .long, help: "Requests worked on at once (default 8).")
    var prefetch: Int?

    @Option(name: .long, help: "trace, debug, info, notice, warning, error or critical (default info).")
    var logLevel: String?

    @Option(name: .long, help: "Serve the client monitor and /metrics at HOST:PORT (default: off).")
    var monitor: String?

    func run() async throws {
        var file = try config.map(ClientConfigurationFile.load) ?? ClientConfigurationFile()
        if let monitor {
            file.monitor = file.monitor ?? MonitorSection()
            file.monitor?.listen = monitor
        }
        file.amqp = amqp ?? file.amqp
        file.amqpPasswordFile = amqpPasswordFile ?? file.amqpPasswordFile
        file.client.address = address ?? file.client.address
        file.client.prefetch = prefetch ?? file.client.prefetch
        file.logLevel = logLevel ?? file.logLevel
        guard let url = file.amqp else { throw ConfigurationError("amqp: the broker URL is missing (--amqp)") }
        let (configuration, pipeline) = try file.client.makeConfiguration(owners: OwnerResolver(), key: "client")
        let logger = ServerCommand.bootstrapLogging(level: try YAMLFile.logLevel(file.logLevel), label: "filterd.client")
        let registry = FilterMetricsSystem.bootstrap()
        let transport = RabbitMQTransport(url: try BrokerURL.resolve(url, passwordFile: file.amqpPasswordFile), logger: logger)
        let monitorListener = try file.monitor?.makeMonitor(
            transport: transport, owner: configuration.owner, registry: registry, logger: logger)
        try await transport.connect()
        let client = FilterClient(
            transport: transport, pipeline: pipeline, configuration: configuration, logger: logger, observer: monitorListener?.observer)
        logger.info("Answering requests", metadata: ["filter.owner": "\(configuration.owner)", "broker": "\(transport.url)"])
        try await ServerCommand.runUntilSignalled([client] + (monitorListener.map { [$0.server] } ?? []), logger: logger)
        await transport.shutdown()
    }
}

struct AllInOneCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "all-in-one",
        abstract: "Run the server and the client pipelines of its config file in one process, without a broker."
    )

    @OptionGroup var options: ServerOptions

    func run() async throws {
        let file = try options.load(amqp: nil, serverID: nil, deadline: nil)
        guard file.amqp == nil else {
            throw ConfigurationError("amqp: filterd all-in-one uses no broker; run filterd server and filterd client for that")
        }
        let configuration = try file.makeConfiguration()
        let console = try file.makeConsoleSettings(server: configuration, broker: nil)
        let clients = try (file.clients ?? []).enumerated().map { index, section in
            let (client, pipeline) = try section.makeConfiguration(owners: configuration.filtering.owners, key: "clients[\(index)]")
            return EmbeddedFilter.Client(configuration: client, pipeline: pipeline)
        }
        let logger = ServerCommand.bootstrapLogging(level: try file.resolvedLogLevel(), label: "filterd")
        FilterMetricsSystem.bootstrap()
        let messageLog = try console?.openMessageLog(server: configuration, logger: logger)
        let filter = try EmbeddedFilter(
            server: configuration, clients: clients, observers: messageLog.map { [$0] } ?? [], logger: logger)
        var services: [any Service] = [filter]
        if let console, let messageLog {
            services = try console.services(around: filter, server: filter.server, messageLog: messageLog, logger: logger)
        }
        try await ServerCommand.runUntilSignalled(services, logger: logger)
    }
}

/// The flags `filterd server` and `filterd all-in-one` share: the configuration file and the
/// settings that override it.
struct ServerOptions: ParsableArguments {
    @Option(name: .long, help: "A YAML configuration file (docs/configuration.md); flags override it.")
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

    @Option(name: .long, help: "What deny does: discard (default, no backscatter) or bounce (a DSN within the DSN rules).")
    var denyPolicy: String?

    @Option(name: .long, help: "Serve the web console at HOST:PORT (default: off unless the config file has a web: section).")
    var web: String?

    /// The configuration file with these flags (and the broker flags given) applied over it.
    func load(amqp: String?, serverID: String?, deadline: Double?) throws -> ServerConfigurationFile {
        var file = try config.map(ServerConfigurationFile.load) ?? ServerConfigurationFile()
        file.override(
            listen: listen, nextHop: nextHop, spool: spool, hostname: hostname, logLevel: logLevel,
            amqp: amqp, serverID: serverID, deadline: deadline, denyPolicy: denyPolicy, web: web)
        return file
    }
}

/// Builds the broker URL with its password, which never needs to be on the command line.
enum BrokerURL {
    /// The environment variable that may hold the broker password.
    static let passwordVariable = "FILTERD_AMQP_PASSWORD"

    /// `text` with the password from the URL itself, else from `passwordFile`, else from
    /// `$FILTERD_AMQP_PASSWORD`.
    static func resolve(_ text: String, passwordFile: String?) throws -> AMQPURL {
        let password = try passwordFile.map(AMQPURL.readPasswordFile) ?? ProcessInfo.processInfo.environment[passwordVariable]
        return try AMQPURL(text, password: password)
    }
}
