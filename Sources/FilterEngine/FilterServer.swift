import FilterCore
import FilterQuarantine
import FilterQueue
import FilterSMTP
import Foundation
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle

/// The filter server as a library: SMTP in → durable spool → decisions → delivery to the next
/// hop. `filterd server` runs one; an embedding program can run one inside a `ServiceGroup`.
///
/// On start it recovers the spool: every entry that is not final is delivered again (delivery is
/// at-least-once). On graceful shutdown it stops accepting connections, lets open sessions finish
/// their message, finishes delivery attempts in progress and leaves everything else spooled.
public final class FilterServer: Service, Sendable {
    /// The configuration the server runs with.
    public let configuration: FilterServerConfiguration
    private let spool: Spool
    /// Blocking file work (writes, fsync, rename) runs here. More threads than cores let the
    /// spool prepare the next batch while one is being synced, so batches grow under load.
    private let fileThreadPool: NIOThreadPool
    private let queue: DeliveryQueue
    private let smtpServer: SMTPServer
    /// One delivery agent per event loop, each with its own next-hop connections on that loop,
    /// and its workers run on that loop too: a delivery needs no thread switch between the
    /// worker and its connection.
    private let lanes: [DeliveryLane]
    private let logger: Logger
    private let listening: AsyncStream<SocketAddress>.Continuation
    /// The addresses the SMTP listener bound, first element when it is listening.
    public let listeningAddresses: AsyncStream<SocketAddress>

    /// Asks owners over the transport; `nil` without one.
    private let coordinator: DecisionCoordinator?
    /// Publishes outcome events over the transport; `nil` without one.
    private let events: EventPublisher?
    /// The quarantine store (by default in `<spool>/quarantine`); `nil` when disabled.
    public let quarantine: QuarantineStore?
    /// Releases, deletions, expiry and digests of the quarantine.
    let quarantineService: QuarantineService?
    /// The result of the last delivery attempt, for ``status()``.
    private let nextHopMonitor = NextHopMonitor()
    /// Messages accepted lately, for ``status()``.
    private let arrivals = ArrivalCounter()

    /// Creates the server and opens (creating if needed) its spool.
    /// - Parameters:
    ///   - configuration: The settings.
    ///   - transport: The broker session owners are asked through, logged in as this server;
    ///     without one every recipient gets `configuration.filtering.defaultAction` (pass).
    ///   - observers: Who else hears of every recipient's final outcome (a message log, metrics),
    ///     after the event publisher, in this order; see ``OutcomeObserver`` for what they may do.
    ///   - eventLoopGroup: Where SMTP and delivery run.
    ///   - logger: Where the server logs.
    /// - Throws: ``SpoolError`` when the spool directory cannot be used, `QuarantineError`
    ///   when the quarantine store cannot.
    public init(
        configuration: FilterServerConfiguration,
        transport: (any FilterTransport)? = nil,
        observers: [any OutcomeObserver] = [],
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        logger: Logger
    ) throws {
        self.configuration = configuration
        self.logger = logger
        let coordinator = transport.map {
            DecisionCoordinator(transport: $0, configuration: configuration.filtering, logger: logger)
        }
        self.coordinator = coordinator
        let events = transport.map {
            EventPublisher(transport: $0, filtering: configuration.filtering, configuration: configuration.events, logger: logger)
        }
        self.events = events
        self.queue = DeliveryQueue(maximumContentBytes: configuration.delivery.memoryBytes)
        let fileThreadPool = NIOThreadPool(numberOfThreads: configuration.fileThreads)
        fileThreadPool.start()
        self.fileThreadPool = fileThreadPool
        do {
            self.spool = try Spool(configuration: SpoolConfiguration(directory: configuration.spoolDirectory), threadPool: fileThreadPool)
        } catch {
            fileThreadPool.shutdownGracefully { _ in }
            throw error
        }
        do {
            quarantineService = try QuarantineService.open(
                configuration.quarantine, server: configuration, spool: spool, queue: queue, logger: logger)
            self.quarantine = quarantineService?.store
        } catch {
            fileThreadPool.shutdownGracefully { _ in }
            throw error
        }
        let queue = self.queue
        let arrivals = self.arrivals
        // With owners to ask, request ids go into the commit itself: recorded before any
        // publish, without a sync batch of their own (DeliveryAgent then has nothing to save).
        let asksOwners = coordinator != nil
        let receiver = SpoolMessageReceiver(
            spool: spool,
            prepare: { entry in if asksOwners { _ = DecisionStage.assignRequestIDs(&entry) } },
            onCommit: { entry, content in
                arrivals.record(at: entry.receivedAt)
                await queue.insert(entry, content: content)
            })
        self.smtpServer = SMTPServer(
            configuration: configuration.smtp, receiver: receiver, eventLoopGroup: eventLoopGroup, logger: logger)
        self.lanes = DeliveryLane.make(
            eventLoopGroup: eventLoopGroup, spool: spool, queue: queue,
            decisions: coordinator.map { DecisionStage(coordinator: $0, configuration: configuration.filtering) },
            quarantine: self.quarantine, outcomes: OutcomeObservers.combining(events, observers), nextHop: nextHopMonitor,
            configuration: configuration, logger: logger)
        (self.listeningAddresses, self.listening) = AsyncStream.makeStream(of: SocketAddress.self)
    }

    /// Recovers the spool, then serves SMTP and delivers until graceful shutdown or cancellation.
    public func run() async throws {
        let recovered = try await spool.recover(logger: logger)
        for entry in recovered {
            await queue.insert(entry)
        }
        logger.info("Spool recovered", metadata: ["spool.entries": "\(recovered.count)", "spool.directory": "\(configuration.spoolDirectory)"])
        let control = ControlServer(path: configuration.resolvedControlSocketPath, handler: ControlHandler(server: self), logger: logger)
        // Replies are taken until delivery has stopped, then the consumer is cancelled.
        let replies = coordinator.map { coordinator in Task { await self.consumeReplies(coordinator) } }
        defer { replies?.cancel() }

        try await withGracefulShutdownHandler {
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    await withDiscardingTaskGroup { workerGroup in
                        for lane in self.lanes {
                            for _ in 0..<lane.workers {
                                workerGroup.addTask(executorPreference: lane.executor) { await lane.agent.runWorker() }
                            }
                        }
                        workerGroup.addTask { await self.runRetryClock() }
                        if let quarantine = self.quarantineService {
                            workerGroup.addTask { await quarantine.runMaintenance { await self.queue.isClosedForWork } }
                        }
                    }
                    // Delivery has stopped: no more outcomes; pending events get a grace period.
                    self.events?.finish()
                }
                if let events = self.events {
                    group.addTask { await events.run() }
                }
                group.addTask { await control.run() }
                // The SMTP listener ends first (on shutdown); then delivery finishes what is in
                // flight and the control socket closes.
                var smtpError: (any Error)?
                do {
                    try await self.smtpServer.run { address in self.listening.yield(address) }
                } catch {
                    smtpError = error
                }
                await self.queue.close()
                control.shutdown()
                try await group.waitForAll()
                if let smtpError { throw smtpError }
            }
        } onGracefulShutdown: {
            self.logger.info("Graceful shutdown requested")
            self.smtpServer.shutdown()
        }
        for lane in lanes {
            await lane.agent.client.shutdown()
        }
        try? await fileThreadPool.shutdownGracefully()
        listening.finish()
        logger.info("Server stopped; undelivered messages stay in the spool")
    }

    /// Takes replies until the server stops. When the reply stream cannot be opened or ends
    /// with an error (the transport gave up for now), it is opened again after a pause that
    /// doubles up to 30 s; meanwhile owners' questions run into their deadlines and get the
    /// fallback action.
    private func consumeReplies(_ coordinator: DecisionCoordinator) async {
        var pause = Duration.seconds(1)
        while !Task.isCancelled {
            do {
                try await coordinator.consumeReplies()
                pause = .seconds(1)
            } catch {
                logger.warning("Reply consumer stopped; opening it again", metadata: ["error": "\(error)", "retry.in": "\(pause)"])
            }
            try? await Task.sleep(for: pause)
            pause = min(pause * 2, .seconds(30))
        }
    }

    /// Moves deferred messages whose retry time has come back to the ready list.
    private func runRetryClock() async {
        while !Task.isCancelled {
            await queue.promoteDue(now: Date())
            if await queue.isClosedForWork { return }
            try? await Task.sleep(for: .milliseconds(250))
        }
    }

    // MARK: - Status

    /// A snapshot of the queue, the owners' outstanding requests, the next hop and the rate of
    /// arrivals.
    public func status() async -> ServerStatus {
        let counts = await queue.counts
        let now = Date()
        return ServerStatus(
            queueDepth: await queue.depth, deferred: counts.deferred,
            outstandingRequests: await coordinator?.outstandingCount ?? 0, nextHop: nextHopMonitor.current,
            receivedLastMinute: arrivals.count(now: now), takenAt: now)
    }

    /// The last subscription check of every owner asked about since the server started (at
    /// most the 10 000 checked most recently), by owner; empty without a transport.
    public func knownOwners() async -> [OwnerSubscription] {
        await coordinator?.knownOwners ?? []
    }

    // MARK: - Operator commands

    /// Releases a quarantined message as `filterctl quarantine release` does: reinjects it
    /// to its recipient through the normal delivery path, then deletes the entry.
    /// - Returns: The released entry and the queue id of its new spool message; `nil` for an
    ///   unknown id.
    /// - Throws: `QuarantineError` (`busy` while another command works on the entry, `disabled`
    ///   without a quarantine) or ``SpoolError`` when it cannot be spooled.
    public func releaseFromQuarantine(_ id: String) async throws -> (entry: QuarantineEntry, queueID: QueueID)? {
        try await requireQuarantine().release(id)
    }

    /// Deletes a quarantined message without delivering it, as `filterctl quarantine delete`.
    /// - Returns: Whether the entry existed.
    /// - Throws: `QuarantineError` (`busy`, `disabled`, or when the store fails).
    public func deleteFromQuarantine(_ id: String) async throws -> Bool {
        try await requireQuarantine().delete(id)
    }

    private func requireQuarantine() throws(QuarantineError) -> QuarantineService {
        guard let quarantineService else {
            throw QuarantineError(code: .disabled, message: "the quarantine is disabled on this server")
        }
        return quarantineService
    }

    /// Delivers a message now, whatever its retry time.
    func retry(_ id: QueueID) async -> Bool {
        await queue.retry(id)
    }

    /// Delivers every deferred message now.
    func retryAll() async -> Int {
        let count = await queue.counts.deferred
        await queue.promoteAll()
        return count
    }

    /// Deletes a message from the spool without delivering it.
    func delete(_ id: QueueID) async throws -> Bool {
        guard await queue.remove(id) != nil else { return false }
        try await spool.remove(id)
        logger.notice("Deleted by the operator", metadata: ["mail.queue.id": "\(id)"])
        return true
    }
}

/// The delivery agent of one event loop and the number of workers it runs.
struct DeliveryLane: Sendable {
    let agent: DeliveryAgent
    let executor: EventLoopTaskExecutor
    let workers: Int

    /// Spreads `configuration.delivery.concurrency` workers over the group's event loops.
    static func make(
        eventLoopGroup: any EventLoopGroup, spool: Spool, queue: DeliveryQueue, decisions: DecisionStage?,
        quarantine: (any QuarantineSink)?, outcomes: (any OutcomeObserver)?, nextHop: NextHopMonitor? = nil,
        configuration: FilterServerConfiguration, logger: Logger
    ) -> [DeliveryLane] {
        var loops: [any EventLoop] = []
        var iterator = eventLoopGroup.makeIterator()
        while let loop = iterator.next() { loops.append(loop) }
        let concurrency = configuration.delivery.concurrency
        return loops.enumerated().map { index, loop in
            let workers = concurrency / loops.count + (index < concurrency % loops.count ? 1 : 0)
            var clientConfiguration = SMTPClientConfiguration(
                heloName: configuration.hostname, host: configuration.nextHop.host, port: configuration.nextHop.port)
            clientConfiguration.maximumIdleConnections = max(1, workers)
            let client = SMTPClient(configuration: clientConfiguration, eventLoopGroup: loop)
            return DeliveryLane(
                agent: DeliveryAgent(
                    spool: spool, queue: queue, client: client, decisions: decisions, quarantine: quarantine,
                    outcomes: outcomes, nextHop: nextHop, configuration: configuration, logger: logger),
                executor: EventLoopTaskExecutor(loop), workers: workers)
        }
    }
}
