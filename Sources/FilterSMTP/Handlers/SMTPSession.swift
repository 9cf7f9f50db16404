import FilterCore
import Foundation
import Logging
import Metrics
import NIOCore

/// Runs one SMTP session: frames input, feeds the state machine and performs its actions.
///
/// Input is handled strictly in order: while a message is being opened or committed no further
/// input is framed, so the replies to pipelined commands always come out in sequence.
struct SMTPSession {
    var machine: SMTPServerStateMachine
    var framer: SMTPFramer
    let receiver: any SMTPMessageReceiver
    let channel: any Channel
    var writer: ReplyWriter
    let logger: Logger
    private let parser = SMTPCommandParser()
    private var message: (any SMTPIncomingMessage)?

    init(
        machine: SMTPServerStateMachine, framer: SMTPFramer, receiver: any SMTPMessageReceiver,
        channel: any Channel, writer: ReplyWriter, logger: Logger
    ) {
        self.machine = machine
        self.framer = framer
        self.receiver = receiver
        self.channel = channel
        self.writer = writer
        self.logger = logger
    }

    /// Serves the session until QUIT, a fatal error, or the client going away. A message that
    /// was not committed when the session ends is discarded: the client never got its 250.
    mutating func run(inbound: NIOAsyncChannelInboundStream<ByteBuffer>) async throws {
        do {
            try await serve(inbound: inbound)
        } catch {
            await discardOpenMessage(reason: "\(error)")
            throw error
        }
        await discardOpenMessage(reason: "connection closed")
    }

    private mutating func serve(inbound: NIOAsyncChannelInboundStream<ByteBuffer>) async throws {
        guard try await perform(machine.sessionStarted()) else { return }
        try await writer.flush()
        do {
            for try await bytes in inbound {
                framer.append(bytes)
                while let frame = framer.nextFrame() {
                    guard try await handle(frame) else {
                        try await writer.flush()
                        return
                    }
                }
                try await writer.flush()
            }
        } catch is SMTPSessionGuard.Timeout {
            logger.notice("Client timed out", metadata: ["smtp.phase": "\(framer.isReadingContent ? "data" : "command")"])
            _ = try await perform(machine.timedOut())
            try await writer.flush()
        } catch is SMTPSessionGuard.ShuttingDown {
            _ = try await perform(machine.shutdownRequested())
            try await writer.flush()
        }
    }

    /// Handles one frame; returns false when the session must end.
    private mutating func handle(_ frame: SMTPFramer.Frame) async throws -> Bool {
        switch frame {
        case .commandLine(let line):
            let action: SMTPServerStateMachine.Action
            do throws(SMTPError) {
                action = machine.commandReceived(try parser.parse(line))
            } catch {
                logger.debug("Command refused", metadata: ["smtp.reply": "\(error.reply)"])
                action = machine.commandRejected(error)
            }
            return try await perform(action)
        case .commandLineTooLong:
            return try await perform(
                machine.commandRejected(SMTPError(.lineTooLong, reply: SMTPReply(code: 500, .init(5, 5, 2), "Error: line too long"))))
        case .bareLineFeedInCommand:
            return try await perform(
                machine.commandRejected(SMTPError(.bareLineFeed, reply: SMTPReply(code: 500, .init(5, 5, 2), "Error: bare <LF> received"))))
        case .content(let content):
            return try await perform(machine.contentReceived(content))
        case .endOfContent:
            return try await perform(machine.contentEnded())
        }
    }

    /// Performs an action and whatever follows from it; returns false when the session must end.
    private mutating func perform(_ first: SMTPServerStateMachine.Action) async throws -> Bool {
        var next: SMTPServerStateMachine.Action? = first
        while let action = next {
            next = nil
            switch action {
            case .none:
                break
            case .sendReply(let reply):
                writer.append(reply)
            case .sendReplyAndClose(let reply):
                writer.append(reply)
                return false
            case .startMessage(let envelope):
                try await writer.flush()
                // The message phase starts with DATA, not with 354: a shutdown while the spool
                // opens the entry must wait for the message instead of cutting it off after 354.
                try await channel.triggerUserOutboundEvent(SMTPSessionGuard.Phase.message).get()
                next = try await openMessage(for: envelope)
            case .beginContent(let reply):
                framer.beginData()
                writer.append(reply)
                try await writer.flush()
            case .storeContent(let content):
                do {
                    try await message?.append(content)
                } catch {
                    logger.error("Spool write failed", metadata: metadata(["error": "\(error)"]))
                    next = machine.contentStoreFailed()
                }
            case .discardMessage:
                await discardOpenMessage(reason: "refused during DATA")
            case .abortMessage(let reply):
                await discardOpenMessage(reason: "\(reply)")
                logger.info("Message refused", metadata: ["smtp.reply": "\(reply)"])
                Self.countRejected(reply)
                writer.append(reply)
                try await endMessagePhase()
            case .commitMessage(let envelope):
                next = try await commit(envelope)
                try await endMessagePhase()
            }
        }
        return true
    }

    private mutating func openMessage(for envelope: Envelope) async throws -> SMTPServerStateMachine.Action {
        do {
            let message = try await receiver.openMessage(for: envelope, logger: logger)
            self.message = message
            let trace = ReceivedHeader.make(
                peerHelo: envelope.peerHelo, peerAddress: envelope.peerAddress,
                hostname: machine.configuration.hostname, protocolName: machine.protocolName,
                queueID: message.queueID,
                recipient: envelope.recipients.count == 1 ? envelope.recipients[0].address : nil, date: Date())
            try await message.append(ByteBuffer(string: trace))
            return machine.messageStarted()
        } catch {
            logger.error("Could not open a spool entry", metadata: ["error": "\(error)"])
            await discardOpenMessage(reason: "open failed")
            try await endMessagePhase()
            return machine.messageStartFailed()
        }
    }

    private mutating func commit(_ envelope: Envelope) async throws -> SMTPServerStateMachine.Action {
        guard let message else { return machine.messageCommitFailed() }
        self.message = nil
        do {
            try await message.commit(envelope: envelope)
            logger.info(
                "Message accepted",
                metadata: metadata([
                    "mail.queue.id": "\(message.queueID)", "mail.from": "<\(envelope.mailFrom)>",
                    "mail.recipients": "\(envelope.recipients.count)",
                ]))
            return machine.messageCommitted(queueID: message.queueID)
        } catch {
            logger.error("Spool commit failed", metadata: ["mail.queue.id": "\(message.queueID)", "error": "\(error)"])
            await message.discard()
            let action = machine.messageCommitFailed()
            if case .sendReply(let reply) = action { Self.countRejected(reply) }
            return action
        }
    }

    /// Counts a message refused at the end of DATA, by reply code (a small, fixed set).
    private static func countRejected(_ reply: SMTPReply) {
        Counter(label: "filterd_messages_rejected_total", dimensions: [("code", "\(reply.code)")]).increment()
    }

    private mutating func endMessagePhase() async throws {
        try await writer.flush()
        try await channel.triggerUserOutboundEvent(SMTPSessionGuard.Phase.command).get()
    }

    private mutating func discardOpenMessage(reason: String) async {
        guard let message else { return }
        self.message = nil
        logger.info("Message discarded", metadata: ["mail.queue.id": "\(message.queueID)", "reason": "\(reason)"])
        await message.discard()
    }

    private func metadata(_ extra: Logger.Metadata) -> Logger.Metadata {
        var result = extra
        if let message { result["mail.queue.id"] = "\(message.queueID)" }
        return result
    }
}
