import FilterCore
import FilterProcessors
import FilterQueue
import Foundation
import Logging
import ServiceLifecycle

/// What a ``FilterClient`` needs besides its transport and pipeline.
public struct FilterClientConfiguration: Sendable, Hashable {
    /// The canonical owner address whose requests this client answers.
    public var owner: String
    /// How many requests are worked on at once (the AMQP prefetch); default 8.
    public var prefetch: Int
    /// The answer when a request's metadata cannot be read; default `pass`. (A failing processor is
    /// handled by its step's `on_error`.)
    public var fallbackAction: FilterAction
    /// How long to wait before giving back a request whose reply the broker did not take (the
    /// server's reply queue is missing or full), so that it is not retried in a tight loop;
    /// default 1 s (docs/protocol.md, client rule 7).
    public var requeuePause: Duration

    /// Creates a configuration with the defaults above.
    public init(owner: String, prefetch: Int = 8, fallbackAction: FilterAction = .pass, requeuePause: Duration = .seconds(1)) {
        self.owner = owner
        self.prefetch = prefetch
        self.fallbackAction = fallbackAction
        self.requeuePause = requeuePause
    }
}

/// One request a ``FilterClient`` answered: what a monitor shows.
public struct ClientAnswer: Sendable, Hashable {
    /// When the decision was made.
    public var decidedAt: Date
    /// The request's metadata; `nil` when it could not be read (the fallback was answered).
    public var request: FilterRequestMetadata?
    /// The message's `Subject` field as the pipeline saw it, if it has one.
    public var subject: String?
    /// The reply: action, reason and each processor's trace.
    public var reply: FilterReply
    /// How long the pipeline ran; `nil` when it did not run.
    public var pipelineDuration: Duration?

    /// Creates an answer record.
    public init(
        decidedAt: Date, request: FilterRequestMetadata?, subject: String?, reply: FilterReply, pipelineDuration: Duration?
    ) {
        self.decidedAt = decidedAt
        self.request = request
        self.subject = subject
        self.reply = reply
        self.pipelineDuration = pipelineDuration
    }
}

/// Hears of every request a ``FilterClient`` answers (a monitor, statistics). Called once per
/// answered request, after its reply is confirmed and the request acknowledged (a request whose
/// reply could not be published comes back and is heard of when it is answered); it must
/// return quickly.
public protocol FilterClientObserver: Sendable {
    /// The client decided `answer`.
    func clientDecided(_ answer: ClientAnswer)
}

/// A user's filter client (DESIGN.md, flow step 5 seen from the other side): it takes the
/// owner's requests from the transport, runs the pipeline and answers each, and the transport
/// acknowledges a request only once its reply is confirmed.
///
/// A redelivered request is simply answered again: the server ignores the duplicate. A failing
/// processor is handled by its step's `on_error`, and a request whose metadata cannot be read
/// gets the configured fallback: nothing is left unacknowledged.
public final class FilterClient: Service, Sendable {
    private let transport: any FilterTransport
    private let pipeline: Pipeline
    private let configuration: FilterClientConfiguration
    private let logger: Logger
    private let observer: (any FilterClientObserver)?

    /// Creates a client.
    /// - Parameter observer: Told of every decision (the client monitor); `nil` for nobody.
    public init(
        transport: any FilterTransport, pipeline: Pipeline, configuration: FilterClientConfiguration, logger: Logger,
        observer: (any FilterClientObserver)? = nil
    ) {
        self.transport = transport
        self.pipeline = pipeline
        self.configuration = configuration
        self.logger = logger
        self.observer = observer
    }

    /// Answers requests until the transport shuts down or graceful shutdown begins. Graceful
    /// shutdown closes the transport: requests still being worked on are not acknowledged and
    /// come again to the next client (answering twice is harmless).
    public func run() async throws {
        let transport = self.transport
        try await withGracefulShutdownHandler {
            try await answerRequests()
        } onGracefulShutdown: {
            Task { await transport.shutdown() }
        }
    }

    /// Answers requests until the transport shuts down, whatever graceful shutdown says: for
    /// an embedder that shuts the transport down itself, later.
    func answerRequests() async throws {
        let requests = try await transport.requests(owner: configuration.owner, prefetch: configuration.prefetch)
        try await withThrowingDiscardingTaskGroup { group in
            for try await request in requests {
                group.addTask { await self.answer(request) }
            }
        }
    }

    /// Decides one request and publishes the reply.
    func answer(_ request: DeliveredRequest) async {
        var logger = self.logger
        logger[metadataKey: "filter.request.id"] = "\(request.id ?? "-")"
        guard let id = request.id, !id.isEmpty, let serverID = request.replyTo, !serverID.isEmpty else {
            logger.warning("Discarding a request without correlation_id or reply_to: it cannot be answered")
            do {
                try await transport.discard(request)
            } catch {
                logger.warning("Could not discard the request", metadata: ["error": "\(error)"])
            }
            return
        }
        var answer = await decide(request, id: id, logger: logger)
        let body: [UInt8]
        do {
            body = try answer.reply.wireJSON()
        } catch {
            // A reply the pipeline made but JSON cannot carry (a score that overflowed to
            // infinity): answer with the fallback instead, so the request is settled, not held.
            logger.error("Could not encode the reply; answering with the fallback action", metadata: ["error": "\(error)"])
            answer.reply = FilterReply(id: id, action: configuration.fallbackAction, reason: "the pipeline's reply could not be encoded")
            body = (try? answer.reply.wireJSON()) ?? []
        }
        let reply = answer.reply
        do {
            try await transport.reply(OutgoingReply(id: id, serverID: serverID, body: body), to: request)
            logger.info("Answered", metadata: ["filter.action": "\(reply.action)", "redelivered": "\(request.redelivered)"])
            // Counted once the reply is confirmed and the request acknowledged: a request that
            // comes back after a failed publish is counted when it is finally answered.
            FilterMetrics.clientAnswered(action: reply.action, pipelineDuration: answer.pipelineDuration)
            observer?.clientDecided(answer)
        } catch {
            // Never acknowledged, the request comes again and is answered again: after a broken
            // connection by itself; a reply the broker did not take on a live connection only
            // once the request is given back, after a pause.
            logger.warning("Could not publish the reply; the request will be delivered again", metadata: ["error": "\(error)"])
            guard error.code == .replyNotTaken else { return }
            try? await Task.sleep(for: configuration.requeuePause)
            do {
                try await transport.requeue(request)
            } catch {
                logger.warning("Could not give the request back; it comes again after a reconnection", metadata: ["error": "\(error)"])
            }
        }
    }

    private func decide(_ request: DeliveredRequest, id: String, logger: Logger) async -> ClientAnswer {
        let metadata: FilterRequestMetadata
        do {
            guard let text = request.metadata else {
                throw WireProtocolError(.missingField, "the header x-mailfilter-request is missing")
            }
            metadata = try FilterRequestMetadata(wireJSON: text)
        } catch {
            logger.warning("Unreadable request metadata; answering with the fallback action", metadata: ["error": "\(error)"])
            let reply = FilterReply(id: id, action: configuration.fallbackAction, reason: "unreadable request")
            return ClientAnswer(decidedAt: Date(), request: nil, subject: nil, reply: reply, pipelineDuration: nil)
        }
        let processorRequest = ProcessorRequest(metadata: metadata, rawMessage: request.body)
        let started = ContinuousClock.now
        let result = await pipeline.run(processorRequest)
        let duration = ContinuousClock.now - started
        for failure in result.failures {
            logger.warning("A processor failed; its step's on_error applied", metadata: ["error": "\(failure)"])
        }
        return ClientAnswer(
            decidedAt: Date(), request: metadata, subject: processorRequest.message.subject, reply: result.reply(id: id),
            pipelineDuration: duration)
    }
}
