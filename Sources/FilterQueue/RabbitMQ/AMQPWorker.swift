import FilterCore
import Foundation
import Logging
import Metrics

/// One broker connection and the dedicated thread that owns it (docs/transport.md).
///
/// rabbitmq-c 0.11 is not thread-safe per connection and has no call that waits for a
/// publisher confirm, so everything that touches the connection happens on this worker's
/// thread: callers hand it commands (closures) and await their results; the thread runs the
/// commands, then reads every frame the broker sent (confirms, returns, deliveries, channel
/// closes) and sleeps in `poll` on the socket and a wake-up pipe, never longer than half the
/// heartbeat interval. A lost connection is re-opened with exponential backoff; publishes
/// that were not confirmed are sent again and consumers are started again.
///
/// State marked "thread" is touched only on the worker's thread; state marked "lock" only
/// under `lock`.
final class AMQPWorker: @unchecked Sendable {
    /// What the connection is for: publishing (channel 1 in confirm mode, channel 2 for
    /// declarations that may fail) or consuming (one channel per consumer).
    enum Role: String, Sendable {
        case publisher
        case consumer
    }

    private struct Command {
        let run: (AMQPWorker) -> Void
        let fail: (TransportError) -> Void
    }

    private final class PendingPublish {
        let message: AMQPOutgoingMessage
        let deadline: ContinuousClock.Instant
        private var completion: ((Result<PublishOutcome, TransportError>) -> Void)?
        var deliveryTag: UInt64 = 0
        var returned = false

        init(
            message: AMQPOutgoingMessage, deadline: ContinuousClock.Instant,
            completion: @escaping (Result<PublishOutcome, TransportError>) -> Void
        ) {
            self.message = message
            self.deadline = deadline
            self.completion = completion
        }

        /// Whether the caller still waits for the outcome.
        var isWaiting: Bool { completion != nil }

        /// Hands the caller its outcome; later outcomes (a confirm after a timeout) are dropped.
        func complete(_ result: Result<PublishOutcome, TransportError>) {
            completion?(result)
            completion = nil
        }
    }

    private final class Consumer {
        let id: UInt64
        let queue: String
        let binding: (exchange: String, routingKey: String)?
        let exclusive: Bool
        let prefetch: Int
        let deliver: @Sendable (AMQPDelivery, UInt64) -> Void
        let finish: @Sendable ((any Error)?) -> Void
        var channel: UInt16 = 0
        var session: UInt64 = 0

        init(
            id: UInt64, queue: String, binding: (exchange: String, routingKey: String)?, exclusive: Bool, prefetch: Int,
            deliver: @escaping @Sendable (AMQPDelivery, UInt64) -> Void, finish: @escaping @Sendable ((any Error)?) -> Void
        ) {
            self.id = id
            self.queue = queue
            self.binding = binding
            self.exclusive = exclusive
            self.prefetch = prefetch
            self.deliver = deliver
            self.finish = finish
        }
    }

    private static let publishChannel: UInt16 = 1
    private static let declarationChannel: UInt16 = 2

    let role: Role
    private let url: AMQPURL
    private let configuration: RabbitMQTransport.Configuration
    private let logger: Logger
    private let wakeup: Wakeup
    /// Where this connection's state is published for monitoring.
    private let states: BrokerConnectionStates

    private let lock = NSLock()
    private var commands: [Command] = []  // lock
    private var terminalError: TransportError?  // lock
    private var stopRequested = false  // lock
    private var exited = false  // lock
    private var exitWaiters: [CheckedContinuation<Void, Never>] = []  // lock

    private var connection: AMQPConnection?  // thread
    private var unconfirmed: [PendingPublish] = []  // thread, ascending delivery tags
    private var outbox: [PendingPublish] = []  // thread, to send once connected
    private var nextDeliveryTag: UInt64 = 1  // thread
    private var consumers: [Consumer] = []  // thread
    private var nextConsumerID: UInt64 = 1  // thread
    private var nextSession: UInt64 = 1  // thread

    init(
        role: Role, url: AMQPURL, configuration: RabbitMQTransport.Configuration, states: BrokerConnectionStates, logger: Logger
    ) throws(TransportError) {
        self.role = role
        self.states = states
        self.url = url
        self.configuration = configuration
        var logger = logger
        logger[metadataKey: "amqp.connection"] = "\(role.rawValue)"
        self.logger = logger
        wakeup = try Wakeup()
    }

    // MARK: Life cycle (any thread)

    /// Starts the thread and waits for the first connection.
    /// - Throws: why the first connection failed; the worker is then finished.
    func start() async throws(TransportError) {
        let result: Result<Void, TransportError> = await withCheckedContinuation { continuation in
            let thread = Thread { [self] in
                run(started: { continuation.resume(returning: $0) })
            }
            thread.name = "filter-amqp-\(role.rawValue)"
            thread.start()
        }
        try result.get()
    }

    /// Closes the connection, fails what is pending with ``TransportError/Code/closed``,
    /// finishes every consumer's stream, and waits for the thread to end.
    func stop() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let done = lock.withLock {
                if exited { return true }
                stopRequested = true
                exitWaiters.append(continuation)
                return false
            }
            if done {
                continuation.resume()
            } else {
                wakeup.signal()
            }
        }
    }

    // MARK: Commands (any thread)

    /// Publishes a message and waits for the broker's confirm, nack or return. While the
    /// connection is down the message waits and is sent after reconnecting.
    func publish(_ message: AMQPOutgoingMessage) async throws(TransportError) -> PublishOutcome {
        let result: Result<PublishOutcome, TransportError> = await withCheckedContinuation { continuation in
            submit(
                Command(
                    run: { worker in
                        worker.enqueue(
                            PendingPublish(
                                message: message, deadline: .now + worker.configuration.publishTimeout,
                                completion: { continuation.resume(returning: $0) }))
                    },
                    fail: { continuation.resume(returning: .failure($0)) }))
        }
        return try result.get()
    }

    /// Runs synchronous AMQP methods on the declaration channel (opened as needed; a broker
    /// error closes it, and the next call opens it again).
    func declare<Value: Sendable>(
        _ body: @escaping (AMQPConnection, UInt16) throws(TransportError) -> Value
    ) async throws(TransportError) -> Value {
        try await perform { connection throws(TransportError) in
            if !connection.isOpen(Self.declarationChannel) {
                try connection.openChannel(Self.declarationChannel)
            }
            return try body(connection, Self.declarationChannel)
        }
    }

    /// Starts a consumer on a channel of its own, declaring and binding its queue first when
    /// `binding` is given, and returns its id. After a reconnection it is started again;
    /// `finish` is called once, when it ends for good.
    func consume(
        queue: String, binding: (exchange: String, routingKey: String)?, exclusive: Bool, prefetch: Int,
        deliver: @escaping @Sendable (AMQPDelivery, UInt64) -> Void, finish: @escaping @Sendable ((any Error)?) -> Void
    ) async throws(TransportError) -> UInt64 {
        try await perform { connection throws(TransportError) in
            let consumer = Consumer(
                id: self.nextConsumerID, queue: queue, binding: binding, exclusive: exclusive, prefetch: prefetch,
                deliver: deliver, finish: finish)
            self.nextConsumerID += 1
            try self.startConsumer(consumer, on: connection)
            self.consumers.append(consumer)
            return consumer.id
        }
    }

    /// Stops a consumer (without waiting): its channel is closed, so the broker requeues what
    /// it delivered and was not acknowledged.
    func cancelConsumer(_ id: UInt64) {
        submit(
            Command(
                run: { worker in
                    guard let index = worker.consumers.firstIndex(where: { $0.id == id }) else { return }
                    let consumer = worker.consumers.remove(at: index)
                    if let connection = worker.connection, connection.isAlive, consumer.session != 0 {
                        connection.closeChannel(consumer.channel)
                    }
                    consumer.finish(nil)
                },
                fail: { _ in }))
    }

    /// Acknowledges or requeues a delivery identified by its consumer session and tag. Returns
    /// false, and does nothing, when the session has ended (the delivery died with its channel
    /// or connection, and the broker delivers it again).
    func settle(session: UInt64, deliveryTag: UInt64, as settlement: DeliverySettlement) async throws(TransportError) -> Bool {
        let result: Result<Bool, TransportError> = await withCheckedContinuation { continuation in
            submit(
                Command(
                    run: { worker in
                        guard let connection = worker.connection, connection.isAlive,
                            let consumer = worker.consumers.first(where: { $0.session == session })
                        else {
                            continuation.resume(returning: .success(false))
                            return
                        }
                        do throws(TransportError) {
                            switch settlement {
                            case .acknowledge: try connection.acknowledge(channel: consumer.channel, deliveryTag: deliveryTag)
                            case .requeue: try connection.requeue(channel: consumer.channel, deliveryTag: deliveryTag)
                            }
                            continuation.resume(returning: .success(true))
                        } catch {
                            continuation.resume(returning: .failure(error))
                            worker.lose(error)
                        }
                    },
                    fail: { continuation.resume(returning: .failure($0)) }))
        }
        return try result.get()
    }

    // MARK: Thread

    private func submit(_ command: Command) {
        let refused: TransportError? = lock.withLock {
            if let terminalError { return terminalError }
            if stopRequested { return TransportError(.closed, "the transport was shut down") }
            commands.append(command)
            return nil
        }
        if let refused {
            command.fail(refused)
        } else {
            wakeup.signal()
        }
    }

    /// Runs `body` on the thread with the live connection; fails at once while disconnected.
    private func perform<Value: Sendable>(
        _ body: @escaping (AMQPConnection) throws(TransportError) -> Value
    ) async throws(TransportError) -> Value {
        let result: Result<Value, TransportError> = await withCheckedContinuation { continuation in
            submit(
                Command(
                    run: { worker in
                        guard let connection = worker.connection, connection.isAlive else {
                            continuation.resume(
                                returning: .failure(
                                    TransportError(.connectionFailed, "not connected to the broker at \(worker.url); reconnecting")))
                            return
                        }
                        do throws(TransportError) {
                            continuation.resume(returning: .success(try body(connection)))
                        } catch {
                            continuation.resume(returning: .failure(error))
                            if !connection.isAlive { worker.lose(error) }
                        }
                    },
                    fail: { continuation.resume(returning: .failure($0)) }))
        }
        return try result.get()
    }

    private func run(started: (Result<Void, TransportError>) -> Void) {
        do throws(TransportError) {
            try connect()
        } catch {
            started(.failure(error))
            end(error)
            return
        }
        started(.success(()))
        var failures = 0
        var nextAttempt = ContinuousClock.now
        while !lock.withLock({ stopRequested }) {
            runCommands()
            expirePublishes()
            if let connection, !connection.isAlive {
                // A command found the connection broken without handing it back.
                lose(TransportError(.connectionFailed, "the connection to \(url) broke"))
            }
            if let connection {
                do throws(TransportError) {
                    try pump(connection)
                } catch {
                    lose(error)
                    nextAttempt = .now + backoff(failures)
                }
                continue
            }
            if ContinuousClock.now < nextAttempt {
                wakeup.wait(socket: nil, timeout: min(nextAttempt - .now, Self.publishTimeoutGranularity))
                continue
            }
            do throws(TransportError) {
                try connect()
                logger.info("reconnected to the broker", metadata: ["amqp.url": "\(url)"])
                Counter(label: "filterd_broker_reconnects_total", dimensions: [("connection", role.rawValue)]).increment()
                failures = 0
            } catch where error.code == .authenticationFailed || error.code == .accessRefused || error.code == .invalidURL {
                end(error)
                return
            } catch {
                failures += 1
                nextAttempt = .now + backoff(failures)
                logger.info(
                    "reconnecting to the broker failed", metadata: ["amqp.url": "\(url)", "error": "\(error)", "attempt": "\(failures)"])
            }
        }
        end(nil)
    }

    private func backoff(_ failures: Int) -> Duration {
        let doubled = configuration.reconnectDelay * (1 << min(failures, 16))
        return min(doubled, configuration.maximumReconnectDelay)
    }

    private func runCommands() {
        let batch = lock.withLock {
            let taken = commands
            commands.removeAll()
            return taken
        }
        for command in batch { command.run(self) }
    }

    /// Handles what has arrived, then sleeps until the socket is readable, a command arrives,
    /// or half a heartbeat has passed (so rabbitmq-c can send ours and notice a dead peer).
    private func pump(_ connection: AMQPConnection) throws(TransportError) {
        var handled = 0
        while handled < configuration.framesPerTurn, let event = try connection.nextEvent(timeout: .zero) {
            try handle(event, on: connection)
            handled += 1
        }
        guard handled == 0, !connection.hasBufferedInput else { return }
        let heartbeat = connection.heartbeatSeconds
        var sleep: Duration = heartbeat > 0 ? .milliseconds(heartbeat * 500) : .seconds(1)
        if !unconfirmed.isEmpty || !outbox.isEmpty { sleep = min(sleep, Self.publishTimeoutGranularity) }
        wakeup.wait(socket: connection.socketDescriptor, timeout: sleep)
    }

    private func connect() throws(TransportError) {
        let connection = try AMQPConnection(url: url, rpcTimeout: configuration.rpcTimeout)
        self.connection = connection
        do throws(TransportError) {
            switch role {
            case .publisher:
                try connection.openChannel(Self.publishChannel)
                try connection.selectConfirms(channel: Self.publishChannel)
                nextDeliveryTag = 1
                let waiting = outbox
                outbox.removeAll()
                for publish in waiting { try send(publish, on: connection) }
            case .consumer:
                for consumer in consumers {
                    do throws(TransportError) {
                        try startConsumer(consumer, on: connection)
                    } catch where connection.isAlive {
                        consumers.removeAll { $0 === consumer }
                        consumer.finish(error)
                    }
                }
            }
        } catch {
            lose(error)
            throw error
        }
        states.record(role, .connected)
    }

    /// Forgets a broken connection: unconfirmed publishes go back to the outbox (to be sent
    /// again), consumers wait to be started again.
    private func lose(_ error: TransportError) {
        guard connection != nil else { return }
        connection = nil
        logger.info("lost the broker connection", metadata: ["amqp.url": "\(url)", "error": "\(error)"])
        states.record(role, .reconnecting, error: "\(error)")
        for publish in unconfirmed { publish.returned = false }
        outbox = unconfirmed.filter(\.isWaiting) + outbox
        unconfirmed.removeAll()
        for consumer in consumers { consumer.session = 0 }
    }

    /// Ends the worker: fails everything pending, finishes the consumers (with `error`, or
    /// normally on shutdown), closes the connection and wakes `stop()`.
    private func end(_ error: TransportError?) {
        let failure = error ?? TransportError(.closed, "the transport was shut down")
        states.record(role, .closed, error: error.map { "\($0)" })
        let (leftover, waiters) = lock.withLock {
            terminalError = failure
            exited = true
            let taken = (commands, exitWaiters)
            commands.removeAll()
            exitWaiters.removeAll()
            return taken
        }
        for command in leftover { command.fail(failure) }
        for publish in unconfirmed + outbox { publish.complete(.failure(failure)) }
        unconfirmed.removeAll()
        outbox.removeAll()
        for consumer in consumers { consumer.finish(error) }
        consumers.removeAll()
        connection?.close()
        connection = nil
        for waiter in waiters { waiter.resume() }
    }

    // MARK: Publishing (thread)

    /// How often, at least, the loop looks for publishes past their deadline.
    private static let publishTimeoutGranularity: Duration = .milliseconds(250)

    /// Fails the publishes whose caller has waited `publishTimeout`. One not sent yet is
    /// dropped; one sent stays tracked (its tag keeps the confirm bookkeeping in order), and
    /// its late confirm is ignored.
    private func expirePublishes() {
        let now = ContinuousClock.now
        let expired = TransportError(
            .timedOut, "the broker did not confirm the publish within \(configuration.publishTimeout)")
        for publish in unconfirmed where publish.isWaiting && publish.deadline <= now {
            publish.complete(.failure(expired))
        }
        outbox.removeAll { publish in
            guard publish.deadline <= now else { return false }
            publish.complete(.failure(expired))
            return true
        }
    }

    private func enqueue(_ publish: PendingPublish) {
        guard let connection, connection.isAlive else {
            outbox.append(publish)
            return
        }
        do throws(TransportError) {
            try send(publish, on: connection)
        } catch {
            lose(error)
        }
    }

    private func send(_ publish: PendingPublish, on connection: AMQPConnection) throws(TransportError) {
        publish.deliveryTag = nextDeliveryTag
        nextDeliveryTag += 1
        unconfirmed.append(publish)
        try connection.publish(channel: Self.publishChannel, message: publish.message)
    }

    /// Settles publishes confirmed (`ack`) or refused (`nack`) up to and including a tag.
    private func settle(deliveryTag: UInt64, multiple: Bool, acknowledged: Bool) {
        let settled: [PendingPublish]
        if multiple {
            let count = unconfirmed.prefix { $0.deliveryTag <= deliveryTag }.count
            settled = Array(unconfirmed.prefix(count))
            unconfirmed.removeFirst(count)
        } else if let index = unconfirmed.firstIndex(where: { $0.deliveryTag == deliveryTag }) {
            settled = [unconfirmed.remove(at: index)]
        } else {
            settled = []
        }
        for publish in settled {
            let outcome: PublishOutcome = acknowledged ? (publish.returned ? .unroutable : .accepted) : .rejected
            publish.complete(.success(outcome))
        }
    }

    // MARK: Consuming (thread)

    private func startConsumer(_ consumer: Consumer, on connection: AMQPConnection) throws(TransportError) {
        let used = Set(consumers.filter { $0.session != 0 }.map(\.channel))
        guard let channel = (1...UInt16.max).first(where: { !used.contains($0) }) else {
            throw TransportError(.protocolError, "no free channel for another consumer")
        }
        try connection.openChannel(channel)
        do throws(TransportError) {
            if let binding = consumer.binding {
                try connection.declareQueue(channel: channel, name: consumer.queue, arguments: [:])
                try connection.bindQueue(
                    channel: channel, queue: consumer.queue, exchange: binding.exchange, routingKey: binding.routingKey)
            }
            try connection.setPrefetch(channel: channel, count: consumer.prefetch)
            try connection.consume(channel: channel, queue: consumer.queue, exclusive: consumer.exclusive)
        } catch {
            if connection.isOpen(channel) { connection.closeChannel(channel) }
            throw error
        }
        consumer.channel = channel
        consumer.session = nextSession
        nextSession += 1
    }

    // MARK: Frames (thread)

    private func handle(_ event: AMQPEvent, on connection: AMQPConnection) throws(TransportError) {
        switch event {
        case .ack(let channel, let tag, let multiple):
            if role == .publisher && channel == Self.publishChannel {
                settle(deliveryTag: tag, multiple: multiple, acknowledged: true)
            }
        case .nack(let channel, let tag, let multiple):
            if role == .publisher && channel == Self.publishChannel {
                settle(deliveryTag: tag, multiple: multiple, acknowledged: false)
            }
        case .returned(_, let code, let text, let properties):
            // basic.return has no delivery tag: match it by correlation_id; the broker sends
            // the ack of the same publish right after it.
            guard let id = properties.correlationID,
                let publish = unconfirmed.first(where: { !$0.returned && $0.message.properties.correlationID == id })
            else {
                logger.debug("a returned message matches no unconfirmed publish", metadata: ["amqp.reply": "\(code) \(text)"])
                return
            }
            publish.returned = true
        case .delivery(let delivery):
            guard let consumer = consumers.first(where: { $0.channel == delivery.channel && $0.session != 0 }) else { return }
            consumer.deliver(delivery, consumer.session)
        case .consumerCancelled(let channel):
            guard let index = consumers.firstIndex(where: { $0.channel == channel && $0.session != 0 }) else { return }
            let consumer = consumers.remove(at: index)
            connection.closeChannel(channel)
            consumer.finish(TransportError(.protocolError, "the broker cancelled the consumer of \(consumer.queue) (queue deleted?)"))
        case .channelClosed(let channel, let error):
            try channelClosed(channel, error: error, on: connection)
        case .other:
            return
        }
    }

    private func channelClosed(_ channel: UInt16, error: TransportError, on connection: AMQPConnection) throws(TransportError) {
        logger.info("the broker closed a channel", metadata: ["amqp.channel": "\(channel)", "error": "\(error)"])
        switch role {
        case .publisher:
            guard channel == Self.publishChannel else { return }
            // The confirms of everything sent on the channel are lost with it: fail those
            // publishes (re-sending would repeat the error, e.g. a missing exchange).
            let failed = unconfirmed
            unconfirmed.removeAll()
            for publish in failed { publish.complete(.failure(error)) }
            try connection.openChannel(Self.publishChannel)
            try connection.selectConfirms(channel: Self.publishChannel)
            nextDeliveryTag = 1
        case .consumer:
            guard let index = consumers.firstIndex(where: { $0.channel == channel && $0.session != 0 }) else { return }
            consumers.remove(at: index).finish(error)
        }
    }
}

/// A pipe that wakes the worker's `poll` when a command arrives.
private final class Wakeup: @unchecked Sendable {
    private let readEnd: Int32
    private let writeEnd: Int32

    init() throws(TransportError) {
        var ends: [Int32] = [0, 0]
        guard pipe(&ends) == 0 else {
            throw TransportError(.connectionFailed, "cannot create a wake-up pipe: \(String(cString: strerror(errno)))")
        }
        for end in ends { _ = fcntl(end, F_SETFL, fcntl(end, F_GETFL) | O_NONBLOCK) }
        for end in ends { _ = fcntl(end, F_SETFD, FD_CLOEXEC) }
        readEnd = ends[0]
        writeEnd = ends[1]
    }

    deinit {
        close(readEnd)
        close(writeEnd)
    }

    /// Wakes the worker (a full pipe already will).
    func signal() {
        var byte: UInt8 = 1
        _ = write(writeEnd, &byte, 1)
    }

    /// Sleeps until `socket` is readable, a signal arrives, or `timeout` passes; drains the pipe.
    func wait(socket: Int32?, timeout: Duration) {
        var descriptors = [pollfd(fd: readEnd, events: Int16(POLLIN), revents: 0)]
        if let socket { descriptors.append(pollfd(fd: socket, events: Int16(POLLIN), revents: 0)) }
        let milliseconds = max(0, min(Int64(Int32.max), timeout.wholeMilliseconds))
        _ = poll(&descriptors, nfds_t(descriptors.count), Int32(milliseconds))
        var buffer = [UInt8](repeating: 0, count: 64)
        while read(readEnd, &buffer, buffer.count) > 0 {}
    }
}
