import FilterCore
import Foundation
import Logging
import Metrics
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// The configuration of the filter's SMTP listener.
public struct SMTPServerConfiguration: Sendable {
    /// The address to listen on. Default `127.0.0.1`.
    public var host: String
    /// The port to listen on; 0 picks a free one. Default 10024 (Postfix FILTER_README).
    public var port: Int
    /// Identity and limits of each session.
    public var session: SMTPServerStateMachine.Configuration
    /// Peers that may connect at all. Default: loopback only.
    public var allowedPeers: [PeerAddressRange]
    /// Peers whose XFORWARD is believed (Postfix `smtpd_authorized_xforward_hosts`).
    /// Default: loopback only.
    public var xforwardPeers: [PeerAddressRange]
    /// How long the server waits for the next command. Default 300 s, Postfix's `smtpd_timeout`.
    public var commandTimeout: TimeAmount
    /// How long the server waits for more content during DATA. Default 300 s.
    public var dataTimeout: TimeAmount
    /// Sessions served at once; more get `421 4.3.2`. Default 100, Postfix's
    /// `default_process_limit`; keep it at least the `maxproc` of the `scan` transport.
    public var maximumSessions: Int
    /// The longest command line accepted, in octets with CRLF. Default 4096 (Postfix's
    /// `line_length_limit` is 2048).
    public var maximumCommandLineLength: Int

    /// Creates a configuration with the documented defaults.
    public init(hostname: String, host: String = "127.0.0.1", port: Int = 10024) {
        self.host = host
        self.port = port
        self.session = SMTPServerStateMachine.Configuration(hostname: hostname)
        self.allowedPeers = PeerAddressRange.loopback
        self.xforwardPeers = PeerAddressRange.loopback
        self.commandTimeout = .seconds(300)
        self.dataTimeout = .seconds(300)
        self.maximumSessions = 100
        self.maximumCommandLineLength = 4096
    }
}

/// The filter's SMTP server: accepts mail from Postfix and hands each message to a
/// ``SMTPMessageReceiver``, answering 250 only once the receiver made it durable.
public final class SMTPServer: Sendable {
    private let configuration: SMTPServerConfiguration
    private let receiver: any SMTPMessageReceiver
    private let eventLoopGroup: any EventLoopGroup
    private let logger: Logger
    private let state = NIOLockedValueBox(State())

    private struct State {
        var serverChannel: (any Channel)?
        var sessions: [ObjectIdentifier: any Channel] = [:]
        var isShuttingDown = false
        var nextSessionNumber = 0
    }

    /// Creates a server; nothing listens until ``run(onListening:)``.
    public init(
        configuration: SMTPServerConfiguration, receiver: any SMTPMessageReceiver,
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton, logger: Logger
    ) {
        self.configuration = configuration
        self.receiver = receiver
        self.eventLoopGroup = eventLoopGroup
        self.logger = logger
    }

    /// Listens and serves until ``shutdown()`` is called or the task is cancelled; returns when
    /// every open session has ended.
    /// - Parameter onListening: called with the bound address (useful with port 0).
    public func run(onListening: @Sendable (SocketAddress) -> Void = { _ in }) async throws {
        let commandTimeout = configuration.commandTimeout
        let dataTimeout = configuration.dataTimeout
        let accepted = AcceptedChannels<ByteBuffer, ByteBuffer>()
        let serverChannel = try await ServerBootstrap(group: eventLoopGroup)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .bind(host: configuration.host, port: configuration.port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(
                        SMTPSessionGuard(commandTimeout: commandTimeout, dataTimeout: dataTimeout))
                    let connection = try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                    accepted.accepted(connection)
                    return connection
                }
            }
        let alreadyShuttingDown = state.withLockedValue { state in
            state.serverChannel = serverChannel.channel
            return state.isShuttingDown
        }
        if alreadyShuttingDown { serverChannel.channel.close(promise: nil) }
        if let address = serverChannel.channel.localAddress {
            logger.info("SMTP server listening", metadata: ["smtp.listen": "\(address)"])
            onListening(address)
        }
        defer { accepted.acceptLoopEnded() }
        try await withTaskCancellationHandler {
            try await withThrowingDiscardingTaskGroup { group in
                try await serverChannel.executeThenClose { inbound in
                    for try await connection in inbound {
                        accepted.take(connection)
                        let executor = EventLoopTaskExecutor(connection.channel.eventLoop)
                        group.addTask(executorPreference: executor) { await self.serve(connection) }
                    }
                }
            }
        } onCancel: {
            self.shutdown()
        }
        logger.info("SMTP server stopped")
    }

    /// Stops accepting connections; idle sessions are closed with 421, sessions in the middle of
    /// a message finish it first.
    public func shutdown() {
        let (serverChannel, sessions) = state.withLockedValue { state in
            state.isShuttingDown = true
            return (state.serverChannel, Array(state.sessions.values))
        }
        serverChannel?.close(promise: nil)
        for session in sessions {
            session.triggerUserOutboundEvent(SMTPSessionGuard.ShutdownRequest(), promise: nil)
        }
    }

    // MARK: - Sessions

    private func serve(_ connection: NIOAsyncChannel<ByteBuffer, ByteBuffer>) async {
        let channel = connection.channel
        let key = ObjectIdentifier(channel)
        let admission: (number: Int, admitted: Bool, shuttingDown: Bool) = state.withLockedValue { state in
            state.nextSessionNumber += 1
            let admitted = state.sessions.count < configuration.maximumSessions && !state.isShuttingDown
            if admitted { state.sessions[key] = channel }
            return (state.nextSessionNumber, admitted, state.isShuttingDown)
        }
        defer { state.withLockedValue { _ = $0.sessions.removeValue(forKey: key) } }
        Counter(label: "filterd_smtp_sessions_total").increment()
        let activeSessions = Meter(label: "filterd_smtp_sessions_active")
        activeSessions.increment()
        defer { activeSessions.decrement() }
        var logger = self.logger
        logger[metadataKey: "smtp.session.id"] = "\(admission.number)"
        let peer = channel.remoteAddress
        logger[metadataKey: "smtp.peer"] = "\(peer?.ipAddress ?? "unknown")"
        do {
            try await connection.executeThenClose { inbound, outbound in
                var writer = ReplyWriter(outbound: outbound)
                guard admission.admitted else {
                    let reply = admission.shuttingDown
                        ? SMTPReply(code: 421, .init(4, 3, 2), "\(configuration.session.hostname) Service shutting down")
                        : SMTPReply(code: 421, .init(4, 3, 2), "\(configuration.session.hostname) Error: too many connections")
                    logger.warning("Session refused", metadata: ["smtp.reply": "\(reply)"])
                    writer.append(reply)
                    try await writer.flush()
                    return
                }
                guard let peer, configuration.allowedPeers.contains(where: { $0.contains(peer) }) else {
                    logger.warning("Connection from a peer that is not allowed")
                    writer.append(SMTPReply(code: 554, .init(5, 7, 1), "Error: access denied for \(peer?.ipAddress ?? "unknown")"))
                    try await writer.flush()
                    return
                }
                var session = SMTPSession(
                    machine: SMTPServerStateMachine(
                        configuration: configuration.session, peerAddress: peer.ipAddress,
                        allowsXForward: configuration.xforwardPeers.contains { $0.contains(peer) }),
                    framer: SMTPFramer(maximumCommandLineLength: configuration.maximumCommandLineLength),
                    receiver: receiver, channel: channel, writer: writer, logger: logger)
                try await session.run(inbound: inbound)
            }
        } catch {
            logger.debug("Session ended with an error", metadata: ["error": "\(error)"])
        }
    }
}

/// Collects replies so that the answers to a pipelined group of commands leave in one write.
struct ReplyWriter {
    let outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>
    private var pending = ByteBuffer()

    init(outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>) {
        self.outbound = outbound
    }

    mutating func append(_ reply: SMTPReply) {
        reply.write(to: &pending)
    }

    mutating func flush() async throws {
        guard pending.readableBytes > 0 else { return }
        let bytes = pending
        pending = ByteBuffer()
        try await outbound.write(bytes)
    }
}
