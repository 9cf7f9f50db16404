import FilterCore
import FilterQueue
import Logging
import NIOConcurrencyHelpers

/// Publishes every recipient's final outcome (delivered, denied, quarantined, failed) to
/// `mailfilter.events`, routed to the owner's events queue (docs/protocol.md, "Events").
///
/// Best-effort, and mail never waits: ``recipientFinished(_:at:)`` only queues the event;
/// ``run()`` publishes queued events, up to ``EventConfiguration/concurrency`` at once. When
/// ``EventConfiguration/maximumPending`` events are already waiting (the broker is slow or
/// away), new ones are dropped, counted and logged; a publish that fails (after the
/// transport's own reconnecting and time limit) is lost the same way, and so are the events
/// still queued when the process dies (they are not spooled). Events may repeat: the observer
/// is called before the spool entry is saved, so a crash after the publish and before the save
/// repeats the outcome, with the same event id, after recovery.
final class EventPublisher: OutcomeObserver {
    /// What happened to the events so far.
    struct Statistics: Sendable, Hashable {
        /// Events queued or being published.
        var pending = 0
        /// Events the broker confirmed.
        var published = 0
        /// Events dropped because too many were pending, or left over at shutdown.
        var dropped = 0
        /// Events whose publish failed.
        var failed = 0
    }

    private struct State {
        var statistics = Statistics()
        /// Set by ``finish()``: events not started by then are dropped.
        var drainDeadline: ContinuousClock.Instant?
    }

    private let transport: any FilterTransport
    private let filtering: FilteringConfiguration
    private let configuration: EventConfiguration
    private let logger: Logger
    private let state = NIOLockedValueBox(State())
    private let events: AsyncStream<OutcomeEvent>
    private let continuation: AsyncStream<OutcomeEvent>.Continuation

    /// Creates a publisher; nothing is published before ``run()``.
    /// - Parameters:
    ///   - transport: The server's broker session (it may publish to `mailfilter.events`).
    ///   - filtering: Where owners come from (``FilteringConfiguration/owners``) and the action
    ///     of a recipient that was never decided (``FilteringConfiguration/defaultAction``).
    ///   - configuration: Limits.
    ///   - logger: Where drops and failures are logged.
    init(
        transport: any FilterTransport, filtering: FilteringConfiguration, configuration: EventConfiguration,
        logger: Logger
    ) {
        self.transport = transport
        self.filtering = filtering
        self.configuration = configuration
        self.logger = logger
        (events, continuation) = AsyncStream.makeStream(of: OutcomeEvent.self)
    }

    /// What happened to the events so far.
    var statistics: Statistics { state.withLockedValue { $0.statistics } }

    /// Queues the event of the recipient at `index`, or drops it when too many are pending.
    func recipientFinished(_ entry: SpoolEntry, at index: Int) async {
        let event = OutcomeEvent(of: entry, at: index, filtering: filtering)
        let admitted = state.withLockedValue { state in
            guard state.statistics.pending < configuration.maximumPending else { return false }
            state.statistics.pending += 1
            return true
        }
        guard admitted, case .enqueued = continuation.yield(event) else {
            if admitted { state.withLockedValue { $0.statistics.pending -= 1 } }
            drop(event, why: "too many events are pending (the broker is slow or away)")
            return
        }
    }

    /// Publishes queued events until ``finish()`` has been called and the queue is drained, or
    /// the task is cancelled.
    func run() async {
        await withTaskGroup(of: Void.self) { group in
            var inFlight = 0
            for await event in events {
                if inFlight >= max(1, configuration.concurrency) {
                    await group.next()
                    inFlight -= 1
                }
                group.addTask { await self.publish(event) }
                inFlight += 1
            }
        }
    }

    /// Takes no more events; those pending are still published for at most
    /// ``EventConfiguration/shutdownGrace``, the rest dropped. Call once delivery has stopped.
    func finish() {
        state.withLockedValue { $0.drainDeadline = .now + configuration.shutdownGrace }
        continuation.finish()
    }

    private func publish(_ event: OutcomeEvent) async {
        let late = state.withLockedValue { state in state.drainDeadline.map { $0 <= .now } ?? false }
        guard !late else {
            state.withLockedValue { $0.statistics.pending -= 1 }
            drop(event, why: "the server is shutting down")
            return
        }
        do {
            let body = try event.wireJSON()
            try await transport.publishEvent(OutgoingEvent(id: event.id, owner: event.owner, body: body, timestamp: event.at))
            state.withLockedValue {
                $0.statistics.pending -= 1
                $0.statistics.published += 1
            }
            FilterMetrics.event("published")
        } catch {
            let failed = state.withLockedValue { state in
                state.statistics.pending -= 1
                state.statistics.failed += 1
                return state.statistics.failed
            }
            FilterMetrics.event("failed")
            if Self.isWorthLogging(failed) {
                logger.warning(
                    "Outcome event not published",
                    metadata: [
                        "mail.queue.id": "\(event.queueID)", "filter.owner": "\(event.owner)", "error": "\(error)",
                        "events.failed": "\(failed)",
                    ])
            }
        }
    }

    private func drop(_ event: OutcomeEvent, why reason: String) {
        let dropped = state.withLockedValue { state in
            state.statistics.dropped += 1
            return state.statistics.dropped
        }
        FilterMetrics.event("dropped")
        if Self.isWorthLogging(dropped) {
            logger.warning(
                "Outcome event dropped: \(reason)",
                metadata: ["mail.queue.id": "\(event.queueID)", "filter.owner": "\(event.owner)", "events.dropped": "\(dropped)"])
        }
    }

    /// The first loss and every thousandth are logged, so a broker outage does not flood the log.
    private static func isWorthLogging(_ count: Int) -> Bool {
        count == 1 || count % 1000 == 0
    }
}

extension OutcomeEvent {
    /// The outcome of the recipient at `index` of `entry`, whose state is final, as the server
    /// publishes it: what every ``OutcomeObserver`` can report about a recipient.
    /// - Parameter filtering: Where owners come from (``FilteringConfiguration/owners``) and the
    ///   action of a recipient that was never decided (``FilteringConfiguration/defaultAction``).
    public init(of entry: SpoolEntry, at index: Int, filtering: FilteringConfiguration) {
        let recipient = entry.envelope.recipients[index].address
        let delivery = entry.recipients[index]
        self.init(
            id: DecisionStage.requestID(of: entry, at: index), queueID: entry.queueID.rawValue,
            owner: filtering.owners.owner(of: recipient), recipient: recipient, sender: entry.envelope.mailFrom,
            action: delivery.decision?.action ?? filtering.defaultAction,
            source: delivery.decision?.source ?? .unsubscribed, state: delivery.state.name,
            reason: delivery.decision?.reply?.reason, detail: delivery.detail, at: delivery.updatedAt)
    }
}
