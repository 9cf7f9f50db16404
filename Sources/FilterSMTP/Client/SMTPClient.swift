import FilterCore
import Foundation
import Logging
import NIOCore
import NIOPosix

/// The SMTP client that reinjects filtered mail into the next hop, keeping a small pool of
/// connections for reuse.
///
/// Safe to call from many tasks at once: each transaction uses one connection exclusively,
/// and only idle connections are shared, through this actor. A reused connection is checked
/// with `RSET` first; if it has gone stale, it is discarded and a new one opened without the
/// caller noticing. A failure in the middle of a transaction closes its connection.
///
/// For each transaction the client sends, as the next hop's EHLO reply allows:
/// `XFORWARD` with the original client's attributes (Postfix XFORWARD_README), `MAIL FROM`
/// with `SIZE` (RFC 1870), `BODY` (RFC 6152), `SMTPUTF8` (RFC 6531), `RET` and `ENVID`
/// (RFC 3461), `RCPT TO` with `NOTIFY` and `ORCPT` (RFC 3461), and `DATA`, all in one write
/// when the next hop offers `PIPELINING` (RFC 2920). The content is canonicalized and
/// dot-stuffed by ``OutboundDataEncoder``.
public actor SMTPClient {
    /// The configuration in force.
    public nonisolated let configuration: SMTPClientConfiguration
    private let eventLoopGroup: any EventLoopGroup
    private var idle: [PooledConnection] = []
    private var isShutDown = false
    private var connectionsOpened = 0

    private struct PooledConnection: Sendable {
        var connection: SMTPClientConnection
        var transactions: Int
        var idleSince: NIODeadline
    }

    /// Creates a client; no connection is opened until the first transaction.
    /// - Parameters:
    ///   - configuration: the next hop and the limits.
    ///   - eventLoopGroup: the event loops for the connections; by default NIO's shared group.
    public init(
        configuration: SMTPClientConfiguration,
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) {
        self.configuration = configuration
        self.eventLoopGroup = eventLoopGroup
    }

    /// Sends one transaction to the next hop.
    ///
    /// - Returns: the reply to each `RCPT TO` and the reply that ended the data phase; use
    ///   ``TransactionResult/finalReply(forRecipientAt:)`` for each recipient's outcome.
    /// - Throws: ``SMTPClientError``: ``SMTPClientError/Code/rejected`` when the next hop
    ///   refused the whole transaction (`XFORWARD` or `MAIL FROM`), and connection, timeout,
    ///   protocol and content errors. ``SMTPClientError/isTransient`` tells retry from bounce.
    public nonisolated func send(_ transaction: OutboundTransaction, logger: Logger) async throws -> TransactionResult {
        let content = try await OutboundContentReader.open(transaction.content, chunkSize: configuration.fileChunkSize)
        defer { content.close() }
        let size = transaction.headerPrefix.readableBytes + content.size

        while true {
            let (pooled, isReused) = try await acquire(logger: logger)
            var logger = logger
            logger[metadataKey: "smtp.client.connection"] = "\(pooled.connection.number)"
            if isReused {
                do {
                    let reply = try await pooled.connection.command("RSET", timeout: configuration.commandTimeout)
                    guard reply.code == 250 else {
                        throw SMTPClientError(.rejected, "RSET refused", reply: reply)
                    }
                } catch {
                    logger.debug("discarding stale idle connection", metadata: ["error": "\(error)"])
                    pooled.connection.close()
                    continue
                }
            }
            let outcome: TransactionOutcome
            do {
                outcome = try await perform(transaction, size: size, content: content, on: pooled.connection, logger: logger)
            } catch {
                pooled.connection.close()
                logger.debug("transaction failed, connection closed", metadata: ["error": "\(error)"])
                throw error
            }
            if !(await release(pooled)) {
                await pooled.connection.quit(timeout: configuration.commandTimeout)
            }
            switch outcome {
            case .completed(let result): return result
            case .refused(let error): throw error
            }
        }
    }

    /// Closes the idle connections (with `QUIT`) and makes later transactions fail with
    /// ``SMTPClientError/Code/shutDown``. Transactions under way finish first and then close
    /// their connections.
    public func shutdown() async {
        isShutDown = true
        let connections = idle
        idle = []
        for pooled in connections {
            await pooled.connection.quit(timeout: configuration.commandTimeout)
        }
    }

    /// The number of idle connections kept for reuse.
    public var idleConnectionCount: Int { idle.count }

    // MARK: - Pool

    private func acquire(logger: Logger) async throws -> (PooledConnection, isReused: Bool) {
        guard !isShutDown else { throw SMTPClientError(.shutDown, "the SMTP client has been shut down") }
        let now = NIODeadline.now()
        while let pooled = idle.popLast() {
            if pooled.connection.isActive, now - pooled.idleSince < configuration.maximumIdleTime {
                return (pooled, true)
            }
            pooled.connection.close()
        }
        connectionsOpened += 1
        let connection = try await SMTPClientConnection.connect(
            configuration: configuration,
            eventLoopGroup: eventLoopGroup,
            number: connectionsOpened,
            logger: logger
        )
        return (PooledConnection(connection: connection, transactions: 0, idleSince: now), false)
    }

    /// Returns a connection after a transaction that ended cleanly; `false` when it is not
    /// kept and the caller should close it.
    private func release(_ pooled: PooledConnection) -> Bool {
        var pooled = pooled
        pooled.transactions += 1
        pooled.idleSince = .now()
        guard !isShutDown, pooled.connection.isActive,
            pooled.transactions < configuration.maximumTransactionsPerConnection,
            idle.count < configuration.maximumIdleConnections
        else { return false }
        idle.append(pooled)
        return true
    }

    // MARK: - Transaction

    /// How a transaction ended when the connection is still in a known state.
    private enum TransactionOutcome {
        /// The next hop answered every command; per-recipient results.
        case completed(TransactionResult)
        /// Refused as a whole before any content; the connection can be reused.
        case refused(SMTPClientError)
    }

    private nonisolated func perform(
        _ transaction: OutboundTransaction,
        size: Int,
        content: OutboundContentReader,
        on connection: SMTPClientConnection,
        logger: Logger
    ) async throws -> TransactionOutcome {
        let capabilities = connection.capabilities
        if transaction.parameters.smtpUTF8, !capabilities.supportsSMTPUTF8 {
            return .refused(
                SMTPClientError(
                    .extensionRequired,
                    "the message needs SMTPUTF8, which the next hop does not offer",
                    reply: SMTPReply(code: 554, EnhancedStatusCode(5, 6, 7), "SMTPUTF8 is required but not offered by the next hop")
                )
            )
        }
        let xforward = SMTPClientCommands.xforward(transaction.client, accepted: capabilities.xforwardAttributes)
        if !xforward.dropped.isEmpty {
            logger.info("XFORWARD attributes too long to send, omitted", metadata: ["smtp.xforward.dropped": "\(xforward.dropped)"])
        }
        let mail = SMTPClientCommands.mailFrom(
            transaction.mailFrom, parameters: transaction.parameters, size: size, capabilities: capabilities
        )
        let recipients = transaction.recipients.map { SMTPClientCommands.rcptTo($0, capabilities: capabilities) }
        do {
            for line in xforward.lines + [mail] + recipients { try SMTPClientCommands.validate(line) }
        } catch let error as SMTPClientError {
            return .refused(error)
        }

        let timeout = configuration.commandTimeout
        let xforwardReplies: [SMTPReply]
        let mailReply: SMTPReply
        var recipientReplies: [SMTPReply] = []
        let dataReply: SMTPReply?
        if capabilities.supportsPipelining {
            let replies = try await connection.pipeline(xforward.lines + [mail] + recipients + ["DATA"], timeout: timeout)
            xforwardReplies = Array(replies.prefix(xforward.lines.count))
            mailReply = replies[xforward.lines.count]
            recipientReplies = Array(replies.dropFirst(xforward.lines.count + 1).dropLast())
            dataReply = replies.last
        } else {
            var replies: [SMTPReply] = []
            for line in xforward.lines {
                let reply = try await connection.command(line, timeout: timeout)
                replies.append(reply)
                guard reply.code == 250 else { break }
            }
            xforwardReplies = replies
            if let refusal = replies.first(where: { $0.code != 250 }) {
                return .refused(SMTPClientError(.rejected, "the next hop refused XFORWARD", reply: refusal))
            }
            mailReply = try await connection.command(mail, timeout: timeout)
            guard mailReply.code == 250 else {
                return .refused(SMTPClientError(.rejected, "the next hop refused MAIL FROM", reply: mailReply))
            }
            for line in recipients {
                recipientReplies.append(try await connection.command(line, timeout: timeout))
            }
            dataReply =
                recipientReplies.contains { (200..<300).contains($0.code) }
                ? try await connection.command("DATA", timeout: timeout) : nil
        }

        // With pipelining, DATA may have been accepted although MAIL was not (RFC 2920 §3.1);
        // such a server waits for content that will never come, so the connection is dropped.
        let refusal: SMTPClientError?
        if let reply = xforwardReplies.first(where: { $0.code != 250 }) {
            refusal = SMTPClientError(.rejected, "the next hop refused XFORWARD", reply: reply)
        } else if mailReply.code != 250 {
            refusal = SMTPClientError(.rejected, "the next hop refused MAIL FROM", reply: mailReply)
        } else {
            refusal = nil
        }
        if let refusal {
            if dataReply?.code == 354 { throw refusal }
            return .refused(refusal)
        }

        let recipientResults = zip(transaction.recipients, recipientReplies).map {
            RecipientReply(recipient: $0, reply: $1)
        }
        guard recipientResults.contains(where: \.isAccepted) else {
            if dataReply?.code == 354 {
                // RFC 2920 §3.1: DATA accepted with no valid recipient; end it with an empty message.
                _ = try await connection.finishContent(ByteBuffer(string: ".\r\n"), timeout: configuration.dataTerminationTimeout)
            }
            return .completed(TransactionResult(recipients: recipientResults, dataReply: nil))
        }
        guard let dataReply, dataReply.code == 354 else {
            return .completed(TransactionResult(recipients: recipientResults, dataReply: dataReply))
        }
        let finalReply = try await sendContent(transaction.headerPrefix, content, on: connection)
        logger.debug(
            "transaction sent",
            metadata: ["smtp.reply": "\(finalReply)", "smtp.client.size": "\(size)"]
        )
        return .completed(TransactionResult(recipients: recipientResults, dataReply: finalReply))
    }

    /// Streams the content: each chunk is read, encoded and written, and the next one is read
    /// only when the socket has taken it, so one chunk at a time is in memory.
    private nonisolated func sendContent(
        _ headerPrefix: ByteBuffer,
        _ content: OutboundContentReader,
        on connection: SMTPClientConnection
    ) async throws -> SMTPReply {
        let allocator = connection.channel.allocator
        var encoder = OutboundDataEncoder()
        var output = allocator.buffer(capacity: headerPrefix.readableBytes + 64)
        encoder.encode(headerPrefix, into: &output)
        var offset = 0
        while let chunk = try await content.read(at: offset, allocator: allocator) {
            offset += chunk.readableBytes
            encoder.encode(chunk, into: &output)
            try await connection.writeContent(output, timeout: configuration.dataBlockTimeout)
            output = allocator.buffer(capacity: chunk.readableBytes + 64)
        }
        encoder.finish(into: &output)
        return try await connection.finishContent(output, timeout: configuration.dataTerminationTimeout)
    }
}
