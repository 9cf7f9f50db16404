import Foundation
import Logging
import NIOCore
import NIOPosix

/// One SMTP connection to the next hop, greeted and introduced (EHLO or HELO).
///
/// A connection is used by one transaction at a time; the pool in ``SMTPClient`` guarantees
/// that. Every method that fails leaves the channel closed.
final class SMTPClientConnection: Sendable {
    let channel: any Channel
    let capabilities: ESMTPCapabilities
    let number: Int

    private init(channel: any Channel, capabilities: ESMTPCapabilities, number: Int) {
        self.channel = channel
        self.capabilities = capabilities
        self.number = number
    }

    /// Connects, reads the greeting and sends EHLO, falling back to HELO when the server
    /// refuses EHLO with a 5yz reply (RFC 5321 §3.2).
    static func connect(
        configuration: SMTPClientConfiguration,
        eventLoopGroup: any EventLoopGroup,
        number: Int,
        logger: Logger
    ) async throws -> SMTPClientConnection {
        let limits = configuration.replyLimits
        let channel: any Channel
        do {
            channel = try await ClientBootstrap(group: eventLoopGroup)
                .connectTimeout(configuration.connectTimeout)
                .channelOption(.socketOption(.tcp_nodelay), value: 1)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandlers(
                            ByteToMessageHandler(SMTPReplyDecoder(limits: limits)),
                            SMTPClientDispatcher()
                        )
                    }
                }
                .connect(host: configuration.host, port: configuration.port)
                .get()
        } catch {
            throw SMTPClientError(
                .connectFailed,
                "cannot connect to \(configuration.host):\(configuration.port): \(error)"
            )
        }
        let timeout = configuration.commandTimeout
        do {
            let greeting = try await exchange(channel, bytes: nil, replies: 1, timeout: timeout, purpose: "the greeting")[0]
            guard greeting.code == 220 else {
                throw SMTPClientError(.rejected, "the next hop refused the connection", reply: greeting)
            }
            let ehlo = try await exchange(
                channel, line: "EHLO \(configuration.heloName)", timeout: timeout, purpose: "EHLO"
            )
            let capabilities: ESMTPCapabilities
            if ehlo.code == 250 {
                capabilities = ESMTPCapabilities(ehloReply: ehlo)
            } else if ehlo.isPermanentFailure {
                let helo = try await exchange(
                    channel, line: "HELO \(configuration.heloName)", timeout: timeout, purpose: "HELO"
                )
                guard helo.code == 250 else {
                    throw SMTPClientError(.rejected, "the next hop refused HELO", reply: helo)
                }
                capabilities = ESMTPCapabilities()
            } else {
                throw SMTPClientError(.rejected, "the next hop refused EHLO", reply: ehlo)
            }
            logger.debug(
                "connected to next hop",
                metadata: [
                    "smtp.client.connection": "\(number)",
                    "smtp.client.extensions": "\(capabilities.keywords.keys.sorted().joined(separator: " "))",
                ]
            )
            return SMTPClientConnection(channel: channel, capabilities: capabilities, number: number)
        } catch {
            channel.close(promise: nil)
            throw error
        }
    }

    /// Whether the channel is still open; a closed idle connection is discarded.
    var isActive: Bool { channel.isActive }

    /// Sends one command line and returns its reply.
    func command(_ line: String, timeout: TimeAmount, purpose: String? = nil) async throws -> SMTPReply {
        try await Self.exchange(channel, line: line, timeout: timeout, purpose: purpose ?? Self.verb(of: line))
    }

    /// Sends command lines in one write (RFC 2920 §3.1) and returns their replies in order.
    func pipeline(_ lines: [String], timeout: TimeAmount) async throws -> [SMTPReply] {
        var bytes = channel.allocator.buffer(capacity: lines.reduce(0) { $0 + $1.utf8.count + 2 })
        for line in lines {
            bytes.writeString(line)
            bytes.writeStaticString("\r\n")
        }
        let purpose = "the pipelined " + lines.map(Self.verb(of:)).joined(separator: ", ")
        return try await Self.exchange(channel, bytes: bytes, replies: lines.count, timeout: timeout, purpose: purpose)
    }

    /// Sends content bytes; returns once the socket has taken them, which is the back-pressure
    /// that keeps a slow next hop from making the client buffer the whole message.
    func writeContent(_ bytes: ByteBuffer, timeout: TimeAmount) async throws {
        let request = SMTPClientRequest(
            bytes: bytes, expectedReplies: 0, timeout: timeout, purpose: "message content", replyPromise: nil
        )
        try await channel.writeAndFlush(request).get()
    }

    /// Sends the last content bytes (ending in the terminator) and returns the final reply.
    func finishContent(_ bytes: ByteBuffer, timeout: TimeAmount) async throws -> SMTPReply {
        try await Self.exchange(channel, bytes: bytes, replies: 1, timeout: timeout, purpose: "the end of data")[0]
    }

    /// Says goodbye (best effort) and closes the connection.
    func quit(timeout: TimeAmount) async {
        _ = try? await command("QUIT", timeout: timeout)
        close()
    }

    /// Closes the connection at once.
    func close() {
        channel.close(promise: nil)
    }

    private static func exchange(
        _ channel: any Channel,
        line: String,
        timeout: TimeAmount,
        purpose: String
    ) async throws -> SMTPReply {
        var bytes = channel.allocator.buffer(capacity: line.utf8.count + 2)
        bytes.writeString(line)
        bytes.writeStaticString("\r\n")
        return try await exchange(channel, bytes: bytes, replies: 1, timeout: timeout, purpose: purpose)[0]
    }

    private static func exchange(
        _ channel: any Channel,
        bytes: ByteBuffer?,
        replies: Int,
        timeout: TimeAmount,
        purpose: String
    ) async throws -> [SMTPReply] {
        let promise = channel.eventLoop.makePromise(of: [SMTPReply].self)
        let request = SMTPClientRequest(
            bytes: bytes, expectedReplies: replies, timeout: timeout, purpose: purpose, replyPromise: promise
        )
        // A write on a channel that is already closed never reaches the dispatcher; its failure
        // must still end the wait. Completing a completed promise again is a no-op.
        channel.writeAndFlush(request).whenFailure { promise.fail($0) }
        do {
            return try await promise.futureResult.get()
        } catch let error as SMTPClientError {
            throw error
        } catch {
            throw SMTPClientError(.connectionClosed, "while awaiting \(purpose): \(error)")
        }
    }

    private static func verb(of line: String) -> String {
        let upper = line.uppercased()
        for verb in ["MAIL FROM", "RCPT TO"] where upper.hasPrefix(verb) { return verb }
        return String(upper.prefix { $0 != " " })
    }
}
