import FilterCore
import FilterProcessors
import FilterQueue
import Logging
import ServiceLifecycle

/// The embedded default (`filterd all-in-one`): the server, its owners' client pipelines and
/// the in-memory transport in one process, with no broker.
///
/// Each configured client's owner is subscribed on the in-memory broker, so mail for them is
/// decided by their pipeline exactly as over RabbitMQ; everyone else gets the default action.
public final class EmbeddedFilter: Service, Sendable {
    /// One owner's pipeline.
    public struct Client: Sendable {
        /// The client's settings (owner, prefetch, fallback).
        public var configuration: FilterClientConfiguration
        /// The owner's pipeline.
        public var pipeline: Pipeline

        /// Creates a client.
        public init(configuration: FilterClientConfiguration, pipeline: Pipeline) {
            self.configuration = configuration
            self.pipeline = pipeline
        }
    }

    /// The broker user the embedded server logs in as.
    public static let serverUser = "filterd"

    /// The server; its ``FilterServer/listeningAddresses`` tell where it listens.
    public let server: FilterServer
    /// The in-memory broker: other parts of the program log in to it (an
    /// `InMemoryTransport` as an owner) to read that owner's outcome events with
    /// `events(owner:prefetch:)`.
    public let broker: InMemoryBroker
    private let clients: [FilterClient]
    private let transports: [InMemoryTransport]

    /// Creates the server and clients on a fresh in-memory broker.
    /// - Parameters:
    ///   - configuration: The server's settings.
    ///   - clients: The owners' pipelines.
    ///   - observers: Who else hears of every final outcome (see ``FilterServer/init(configuration:transport:observers:eventLoopGroup:logger:)``).
    ///   - logger: Where server and clients log.
    /// - Throws: ``FilterCore/SpoolError`` when the spool cannot be opened; `TopologyError` for an
    ///   owner whose queue name would be too long.
    public init(
        server configuration: FilterServerConfiguration, clients: [Client], observers: [any OutcomeObserver] = [], logger: Logger
    ) throws {
        let broker = InMemoryBroker()
        // The reply queue exists before anything is asked: requests recovered from the spool
        // are asked again at once, possibly before the server consumes its replies.
        broker.addServer(user: Self.serverUser, serverID: configuration.filtering.serverID)
        let serverTransport = InMemoryTransport(broker: broker, user: Self.serverUser)
        var transports = [serverTransport]
        var filterClients: [FilterClient] = []
        for client in clients {
            let owner = client.configuration.owner
            try broker.subscribe(owner: owner, user: owner)
            let transport = InMemoryTransport(broker: broker, user: owner)
            transports.append(transport)
            var clientLogger = logger
            clientLogger[metadataKey: "filter.owner"] = "\(owner)"
            filterClients.append(
                FilterClient(transport: transport, pipeline: client.pipeline, configuration: client.configuration, logger: clientLogger))
        }
        self.server = try FilterServer(configuration: configuration, transport: serverTransport, observers: observers, logger: logger)
        self.clients = filterClients
        self.broker = broker
        self.transports = transports
    }

    /// Runs the server and every client until graceful shutdown; the clients stop once the
    /// server has finished, so no decision the server still waits for goes unanswered.
    public func run() async throws {
        try await withThrowingDiscardingTaskGroup { group in
            for client in clients {
                group.addTask { try await client.answerRequests() }
            }
            try await server.run()
            for transport in transports {
                await transport.shutdown()
            }
        }
    }
}
