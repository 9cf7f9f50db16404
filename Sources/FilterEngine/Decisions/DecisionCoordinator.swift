import FilterCore
import FilterQueue
import Foundation
import Logging

/// One recipient's question to its owner: the request the server publishes, and when to stop
/// waiting.
struct OwnerQuestion: Sendable {
    /// The request id, already recorded in the spool.
    var requestID: String
    /// The canonical owner.
    var owner: String
    /// The request metadata (`x-mailfilter-request`).
    var metadata: FilterRequestMetadata
    /// The message, cut at the configured maximum.
    var body: [UInt8]
}

/// Asks owners for decisions and collects their replies (DESIGN.md, flow steps 4 and 5).
///
/// For each question: a cached subscription check; no queue gives the default action, a queue
/// without consumer the owner's offline policy; otherwise the request is published and the
/// question waits until a valid reply or the deadline. Replies are checked against this
/// coordinator's record of what it asked; a rejected reply changes nothing and is counted by
/// reason (``rejectedReplies``).
actor DecisionCoordinator {
    private let transport: any FilterTransport
    private let configuration: FilteringConfiguration
    private let logger: Logger

    private var subscriptions: [String: (subscription: Subscription, checkedAt: ContinuousClock.Instant)] = [:]
    /// The last subscription check of each owner, for the console; the least recently checked
    /// are forgotten beyond ``knownOwnersCapacity``.
    private var lastChecks: [String: OwnerSubscription] = [:]
    /// How many owners ``lastChecks`` remembers: mail to many invented addresses must not grow
    /// it without bound.
    static let knownOwnersCapacity = 10_000
    private var outstanding: [String: Outstanding] = [:]
    private var finished = RecentlyFinished(capacity: 100_000)
    /// How many replies were rejected, by reason.
    private(set) var rejectedReplies: [RejectedReplyReason: Int] = [:]

    private struct Outstanding {
        var owner: String
        /// When the message was accepted (spooled), for the decision latency in the log.
        var received: Date
        var continuation: CheckedContinuation<RecipientDecision, Never>
        var deadline: Task<Void, Never>
    }

    init(transport: any FilterTransport, configuration: FilteringConfiguration, logger: Logger) {
        self.transport = transport
        self.configuration = configuration
        self.logger = logger
    }

    /// Consumes this server's reply queue until the transport shuts down or the task is
    /// cancelled. Every reply is acknowledged once handled, whether applied or rejected.
    func consumeReplies() async throws {
        let replies = try await transport.replies(serverID: configuration.serverID)
        for try await reply in replies {
            handle(reply)
            do {
                try await transport.acknowledge(reply)
            } catch {
                logger.warning("Could not acknowledge a reply; the broker will deliver it again", metadata: ["error": "\(error)"])
            }
        }
    }

    /// Decides one question; never throws: every failure ends in a documented action.
    func decide(_ question: OwnerQuestion) async -> RecipientDecision {
        var logger = self.logger
        logger[metadataKey: "mail.queue.id"] = "\(question.metadata.queueId)"
        logger[metadataKey: "filter.request.id"] = "\(question.requestID)"
        logger[metadataKey: "filter.owner"] = "\(question.owner)"
        let subscription: Subscription
        do {
            subscription = try await self.subscription(of: question.owner)
        } catch {
            logger.warning("Broker unavailable; applying the fallback action", metadata: ["error": "\(error)"])
            return RecipientDecision(action: configuration.fallbackAction(for: question.owner), source: .unavailable)
        }
        switch subscription {
        case .none:
            return RecipientDecision(action: configuration.defaultAction(for: question.owner), source: .unsubscribed)
        case .offline where configuration.offlinePolicy(for: question.owner) == .fallback:
            logger.info("Owner's client is offline; applying the fallback action")
            return RecipientDecision(action: configuration.fallbackAction(for: question.owner), source: .offline)
        case .offline, .online:
            return await ask(question, logger: logger)
        }
    }

    // MARK: - Asking

    private func subscription(of owner: String) async throws(TransportError) -> Subscription {
        let now = ContinuousClock.now
        if let cached = subscriptions[owner], now - cached.checkedAt < configuration.subscriptionCacheTime {
            return cached.subscription
        }
        let subscription = try await transport.subscription(of: owner)
        subscriptions[owner] = (subscription, ContinuousClock.now)
        remember(OwnerSubscription(owner: owner, subscription: subscription, checkedAt: Date()))
        return subscription
    }

    private func remember(_ check: OwnerSubscription) {
        lastChecks[check.owner] = check
        if lastChecks.count > Self.knownOwnersCapacity, let oldest = lastChecks.values.min(by: { $0.checkedAt < $1.checkedAt }) {
            lastChecks[oldest.owner] = nil
        }
    }

    /// Requests published and not yet answered or expired.
    var outstandingCount: Int { outstanding.count }

    /// The last subscription check of every owner asked about lately, by owner.
    var knownOwners: [OwnerSubscription] { lastChecks.values.sorted { $0.owner < $1.owner } }

    private func ask(_ question: OwnerQuestion, logger: Logger) async -> RecipientDecision {
        let id = question.requestID
        let deadline = configuration.deadline(for: question.owner)
        let metadata: String
        do {
            metadata = try question.metadata.wireJSON()
        } catch {
            logger.error("Could not encode the request; applying the fallback action", metadata: ["error": "\(error)"])
            return RecipientDecision(action: configuration.fallbackAction(for: question.owner), source: .unavailable)
        }
        let request = OutgoingRequest(
            id: id, owner: question.owner, serverID: configuration.serverID,
            queueID: question.metadata.queueId, metadata: metadata, body: question.body,
            expiration: deadline, timestamp: Date())
        return await withCheckedContinuation { continuation in
            // Registered before publishing: a fast client may answer before the confirm.
            let timer = Task { [weak self] in
                try? await Task.sleep(for: deadline)
                guard !Task.isCancelled else { return }
                await self?.expire(id)
            }
            if let earlier = outstanding.removeValue(forKey: id) {
                // The same id asked twice at once cannot happen in one server; if it does, the
                // earlier question gets the fallback rather than waiting forever.
                earlier.deadline.cancel()
                earlier.continuation.resume(returning: RecipientDecision(action: configuration.fallbackAction(for: earlier.owner), source: .deadline))
            }
            outstanding[id] = Outstanding(
                owner: question.owner, received: question.metadata.received, continuation: continuation, deadline: timer)
            Task { await self.publish(request, logger: logger) }
        }
    }

    private func publish(_ request: OutgoingRequest, logger: Logger) async {
        let outcome: PublishOutcome
        do {
            outcome = try await transport.publish(request)
        } catch {
            logger.warning("Could not publish the request; applying the fallback action", metadata: ["error": "\(error)"])
            conclude(request.id, with: RecipientDecision(action: configuration.fallbackAction(for: request.owner), source: .unavailable), as: .expired)
            return
        }
        switch outcome {
        case .accepted:
            logger.debug("Request published")
        case .unroutable, .rejected:
            logger.notice("The broker refused the request; applying the fallback action", metadata: ["outcome": "\(outcome)"])
            subscriptions[request.owner] = nil
            conclude(request.id, with: RecipientDecision(action: configuration.fallbackAction(for: request.owner), source: .refused), as: .expired)
        }
    }

    private func expire(_ id: String) {
        guard let owner = outstanding[id]?.owner else { return }
        logger.notice("No reply before the deadline; applying the fallback action", metadata: ["filter.request.id": "\(id)"])
        FilterMetrics.deadlineFallback()
        conclude(id, with: RecipientDecision(action: configuration.fallbackAction(for: owner), source: .deadline), as: .expired)
    }

    private func conclude(_ id: String, with decision: RecipientDecision, as ending: RecentlyFinished.Ending) {
        guard let entry = outstanding.removeValue(forKey: id) else { return }
        entry.deadline.cancel()
        finished.insert(id, ending)
        entry.continuation.resume(returning: decision)
    }

    // MARK: - Replies

    private func handle(_ received: ReceivedReply) {
        switch ReplyCheck.decode(received) {
        case .failure(let reason):
            reject(received, reason)
        case .success(let reply):
            guard let entry = outstanding[reply.id] else {
                switch finished.ending(of: reply.id) {
                case .decided: reject(received, .duplicate)
                case .expired: reject(received, .late)
                case nil: reject(received, .unknownID)
                }
                return
            }
            if let reason = ReplyCheck.authorize(received, owner: entry.owner) {
                reject(received, reason)
                return
            }
            // filter.decision.ms: from acceptance to this reply, what scripts/bench-rpc.sh reports.
            let milliseconds = (Date().timeIntervalSince(entry.received) * 10_000).rounded() / 10
            logger.info("Owner decided", metadata: [
                "filter.request.id": "\(reply.id)", "filter.owner": "\(entry.owner)", "filter.action": "\(reply.action)",
                "filter.decision.ms": "\(milliseconds)",
            ])
            conclude(reply.id, with: RecipientDecision(action: reply.action, source: .client, reply: reply), as: .decided)
        }
    }

    private func reject(_ received: ReceivedReply, _ reason: RejectedReplyReason) {
        rejectedReplies[reason, default: 0] += 1
        FilterMetrics.replyRejected(reason)
        logger.warning("Rejected a reply", metadata: [
            "reason": "\(reason)",
            "filter.request.id": "\(received.correlationID ?? "-")",
            "amqp.user_id": "\(received.userID ?? "-")",
        ])
    }
}

/// The ids of requests concluded lately, so a reply to one of them is reported as a duplicate
/// or as late rather than as unknown. Bounded: the oldest are forgotten first.
struct RecentlyFinished {
    enum Ending { case decided, expired }

    private let capacity: Int
    private var endings: [String: Ending] = [:]
    private var order: [String] = []
    private var oldest = 0

    init(capacity: Int) { self.capacity = capacity }

    mutating func insert(_ id: String, _ ending: Ending) {
        if endings.updateValue(ending, forKey: id) == nil { order.append(id) }
        if order.count - oldest > capacity {
            endings[order[oldest]] = nil
            oldest += 1
        }
        if oldest > capacity {
            order.removeFirst(oldest)
            oldest = 0
        }
    }

    func ending(of id: String) -> Ending? { endings[id] }
}
