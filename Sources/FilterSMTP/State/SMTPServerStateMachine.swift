import FilterCore
import NIOCore

/// The server side of one SMTP session (RFC 5321 §4.1.4 command order) as a value type.
///
/// The channel handler feeds it what happened (a command arrived, content arrived, the spool
/// committed the message, the client went silent) and runs the ``Action`` it returns. The
/// machine itself does no I/O, so every transcript can be tested without sockets.
public struct SMTPServerStateMachine: Sendable {
    /// The session limits and identity.
    public struct Configuration: Sendable, Hashable {
        /// The server's own host name, used in the greeting and EHLO reply. It must differ from
        /// Postfix's `myhostname`, or Postfix's mail loop check fires.
        public var hostname: String
        /// The largest message accepted, in octets of content (RFC 1870). Default 64 MiB; keep it
        /// at least as large as Postfix's `message_size_limit` (default 10240000).
        public var maximumMessageSize: Int
        /// The most recipients in one transaction. Default 1000, Postfix's `smtpd_recipient_limit`.
        public var maximumRecipients: Int
        /// The most `Received` fields a message may already carry (RFC 5321 §6.3). Default 50,
        /// Postfix's `hopcount_limit`.
        public var maximumHops: Int
        /// After this many erroneous commands the session is closed with 421. Default 20,
        /// Postfix's `smtpd_hard_error_limit`.
        public var maximumErrors: Int

        /// Creates a configuration with the documented defaults.
        public init(
            hostname: String,
            maximumMessageSize: Int = 64 * 1024 * 1024,
            maximumRecipients: Int = 1000,
            maximumHops: Int = 50,
            maximumErrors: Int = 20
        ) {
            self.hostname = hostname
            self.maximumMessageSize = maximumMessageSize
            self.maximumRecipients = maximumRecipients
            self.maximumHops = maximumHops
            self.maximumErrors = maximumErrors
        }
    }

    /// What the channel handler must do next.
    public enum Action: Sendable, Hashable {
        /// Nothing to do.
        case none
        /// Send a reply and go on reading.
        case sendReply(SMTPReply)
        /// Send a reply, then close the connection.
        case sendReplyAndClose(SMTPReply)
        /// Open a spool entry for the message of this envelope (recipients complete), then call
        /// ``messageStarted(queueID:)`` or ``messageStartFailed()``.
        case startMessage(Envelope)
        /// Switch the framer to content mode and send the 354 reply.
        case beginContent(SMTPReply)
        /// Append this content to the open spool entry.
        case storeContent(ByteBuffer)
        /// The content is complete and acceptable: commit the spool entry, then call
        /// ``messageCommitted(queueID:)`` or ``messageCommitFailed()``.
        case commitMessage(Envelope)
        /// Discard the open spool entry; the content that follows is read and dropped.
        case discardMessage
        /// Discard the open spool entry (if still open) and send the reply.
        case abortMessage(SMTPReply)
    }

    private enum Phase: Sendable {
        /// Before the greeting went out.
        case connected
        /// No transaction.
        case idle
        /// After MAIL FROM.
        case transaction
        /// DATA accepted, waiting for the spool entry to open.
        case openingMessage
        /// Reading content.
        case receivingContent(ContentProgress)
        /// Content ended, waiting for the spool.
        case committing
        /// QUIT or a fatal error; nothing more is read.
        case closed
    }

    private struct ContentProgress: Sendable {
        var size = 0
        var isOversized = false
        var storeFailed = false
        var receivedCounter = ReceivedHeaderCounter()
    }

    /// The configuration of this session.
    public let configuration: Configuration
    /// Whether this peer may send XFORWARD.
    public let allowsXForward: Bool
    private var phase: Phase = .connected
    private var heloName: String?
    private var isExtended = false
    private var errorCount = 0
    private var client = ClientInfo()
    private var envelope: Envelope?
    private let peerAddress: String?

    /// Creates the machine for a new connection.
    /// - Parameters:
    ///   - configuration: limits and host name.
    ///   - peerAddress: the connected peer's IP address, recorded in the envelope.
    ///   - allowsXForward: whether the peer is an authorized XFORWARD host.
    public init(configuration: Configuration, peerAddress: String?, allowsXForward: Bool) {
        self.configuration = configuration
        self.peerAddress = peerAddress
        self.allowsXForward = allowsXForward
    }

    /// The `EHLO` keywords this server offers (RFC 5321 §4.1.1.1).
    public var extensions: [String] {
        var keywords = [
            "PIPELINING", "SIZE \(configuration.maximumMessageSize)", "8BITMIME", "SMTPUTF8",
            "ENHANCEDSTATUSCODES", "DSN",
        ]
        if allowsXForward {
            keywords.append("XFORWARD " + XForwardAttribute.knownNames.joined(separator: " "))
        }
        return keywords
    }

    /// The protocol name for the `with` clause of a `Received` field (RFC 3848, RFC 6531 §3.7.3).
    public var protocolName: String {
        guard isExtended else { return "SMTP" }
        return envelope?.parameters.smtpUTF8 == true ? "UTF8SMTP" : "ESMTP"
    }

    /// Whether the session has ended.
    public var isClosed: Bool {
        if case .closed = phase { return true }
        return false
    }

    // MARK: - Events

    /// The connection is up: greet.
    public mutating func sessionStarted() -> Action {
        phase = .idle
        return .sendReply(SMTPReply(code: 220, lines: ["\(configuration.hostname) ESMTP filterd"]))
    }

    /// The client sent a command line that parsed.
    public mutating func commandReceived(_ command: SMTPCommand) -> Action {
        switch phase {
        case .connected, .openingMessage, .receivingContent, .committing, .closed:
            // The handler never parses commands in these phases; answering keeps the dialogue
            // in step should it ever happen.
            return error(SMTPReply(code: 503, .init(5, 5, 1), "Error: command out of sequence"))
        case .idle, .transaction:
            break
        }
        switch command {
        case .ehlo(let name):
            resetTransaction()
            heloName = name
            isExtended = true
            return .sendReply(SMTPReply(code: 250, lines: [configuration.hostname] + extensions))
        case .helo(let name):
            resetTransaction()
            heloName = name
            isExtended = false
            return .sendReply(SMTPReply(code: 250, lines: [configuration.hostname]))
        case .mail(let mail):
            return mailReceived(mail)
        case .rcpt(let recipient):
            return recipientReceived(recipient)
        case .data:
            return dataReceived()
        case .rset:
            resetTransaction()
            return .sendReply(SMTPReply(code: 250, .init(2, 0, 0), "Ok"))
        case .noop:
            return .sendReply(SMTPReply(code: 250, .init(2, 0, 0), "Ok"))
        case .help:
            return .sendReply(SMTPReply(code: 214, .init(2, 0, 0), "See RFC 5321; this is an after-queue content filter"))
        case .vrfy:
            return .sendReply(SMTPReply(code: 252, .init(2, 0, 0), "Cannot VRFY user; try RCPT to attempt delivery"))
        case .quit:
            phase = .closed
            return .sendReplyAndClose(SMTPReply(code: 221, .init(2, 0, 0), "Bye"))
        case .xforward(let attributes):
            guard allowsXForward else {
                return error(SMTPReply(code: 550, .init(5, 7, 0), "Error: insufficient authorization"))
            }
            guard envelope == nil else {
                return error(SMTPReply(code: 503, .init(5, 5, 1), "Error: MAIL transaction in progress"))
            }
            client.apply(attributes)
            return .sendReply(SMTPReply(code: 250, .init(2, 0, 0), "Ok"))
        }
    }

    /// The client sent a line that did not parse (or broke a framing rule).
    public mutating func commandRejected(_ error: SMTPError) -> Action {
        self.error(error.reply)
    }

    /// The spool entry for the message is open: ask for the content.
    public mutating func messageStarted() -> Action {
        guard case .openingMessage = phase else { return .none }
        phase = .receivingContent(ContentProgress())
        return .beginContent(SMTPReply(code: 354, lines: ["End data with <CR><LF>.<CR><LF>"]))
    }

    /// The spool could not open an entry.
    public mutating func messageStartFailed() -> Action {
        guard case .openingMessage = phase else { return .none }
        resetTransaction()
        return .sendReply(SMTPReply(code: 451, .init(4, 3, 0), "Error: queue file write error"))
    }

    /// A piece of (un-stuffed) content arrived.
    public mutating func contentReceived(_ content: ByteBuffer) -> Action {
        guard case .receivingContent(var progress) = phase else { return .none }
        progress.size += content.readableBytes
        if progress.storeFailed { return .none }
        if progress.isOversized || progress.size > configuration.maximumMessageSize {
            // Read on to the end of the content so the reply lands in step (RFC 1870 §6.3), but
            // keep nothing.
            let first = !progress.isOversized
            progress.isOversized = true
            phase = .receivingContent(progress)
            return first ? .discardMessage : .none
        }
        progress.receivedCounter.scan(content)
        phase = .receivingContent(progress)
        return .storeContent(content)
    }

    /// Appending content to the spool failed (for example, the disk is full): read on to the
    /// end of the content, then answer with a temporary failure.
    public mutating func contentStoreFailed() -> Action {
        guard case .receivingContent(var progress) = phase, !progress.storeFailed else { return .none }
        progress.storeFailed = true
        phase = .receivingContent(progress)
        return .discardMessage
    }

    /// The `CRLF.CRLF` ending the content arrived.
    public mutating func contentEnded() -> Action {
        guard case .receivingContent(let progress) = phase, let envelope else { return .none }
        if progress.isOversized {
            resetTransaction()
            return .abortMessage(SMTPReply(code: 552, .init(5, 3, 4), "Error: message file too big"))
        }
        if progress.storeFailed {
            resetTransaction()
            return .abortMessage(SMTPReply(code: 451, .init(4, 3, 0), "Error: queue file write error"))
        }
        if progress.receivedCounter.count > configuration.maximumHops {
            resetTransaction()
            return .abortMessage(SMTPReply(code: 554, .init(5, 4, 6), "Error: too many hops (mail loop detected)"))
        }
        phase = .committing
        return .commitMessage(envelope)
    }

    /// The message is durable in the spool: now, and only now, say 250.
    public mutating func messageCommitted(queueID: QueueID) -> Action {
        guard case .committing = phase else { return .none }
        resetTransaction()
        return .sendReply(SMTPReply(code: 250, .init(2, 0, 0), "Ok: queued as \(queueID)"))
    }

    /// The spool failed to make the message durable: the client must try again later.
    public mutating func messageCommitFailed() -> Action {
        guard case .committing = phase else { return .none }
        resetTransaction()
        return .sendReply(SMTPReply(code: 451, .init(4, 3, 0), "Error: queue file write error"))
    }

    /// The client was silent for longer than the command or data timeout.
    public mutating func timedOut() -> Action {
        phase = .closed
        return .sendReplyAndClose(SMTPReply(code: 421, .init(4, 4, 2), "\(configuration.hostname) Error: timeout exceeded"))
    }

    /// The server is shutting down: refuse further work politely.
    public mutating func shutdownRequested() -> Action {
        switch phase {
        case .connected, .idle, .transaction:
            phase = .closed
            return .sendReplyAndClose(SMTPReply(code: 421, .init(4, 3, 2), "\(configuration.hostname) Service shutting down"))
        case .openingMessage, .receivingContent, .committing, .closed:
            return .none
        }
    }

    // MARK: - Transaction commands

    private mutating func mailReceived(_ mail: MailCommand) -> Action {
        guard heloName != nil else {
            return error(SMTPReply(code: 503, .init(5, 5, 1), "Error: send HELO/EHLO first"))
        }
        guard envelope == nil else {
            return error(SMTPReply(code: 503, .init(5, 5, 1), "Error: nested MAIL command"))
        }
        if !isExtended, mail.parameters != MailParameters() {
            return error(SMTPReply(code: 555, .init(5, 5, 4), "Error: ESMTP parameters need EHLO"))
        }
        if let size = mail.parameters.size, size > configuration.maximumMessageSize {
            return error(SMTPReply(code: 552, .init(5, 3, 4), "Message size exceeds fixed limit"))
        }
        if !mail.parameters.smtpUTF8, !mail.reversePath.utf8.allSatisfy({ $0 < 0x80 }) {
            return error(SMTPReply(code: 553, .init(5, 6, 7), "Error: non-ASCII sender address needs SMTPUTF8"))
        }
        envelope = Envelope(
            mailFrom: mail.reversePath, parameters: mail.parameters, client: client,
            peerHelo: heloName, peerAddress: peerAddress)
        phase = .transaction
        return .sendReply(SMTPReply(code: 250, .init(2, 1, 0), "Ok"))
    }

    private mutating func recipientReceived(_ recipient: EnvelopeRecipient) -> Action {
        guard var envelope else {
            return error(SMTPReply(code: 503, .init(5, 5, 1), "Error: need MAIL command"))
        }
        guard envelope.recipients.count < configuration.maximumRecipients else {
            return .sendReply(SMTPReply(code: 452, .init(4, 5, 3), "Error: too many recipients"))
        }
        if !envelope.parameters.smtpUTF8, !recipient.address.utf8.allSatisfy({ $0 < 0x80 }) {
            return error(SMTPReply(code: 553, .init(5, 6, 7), "Error: non-ASCII recipient address needs SMTPUTF8"))
        }
        envelope.recipients.append(recipient)
        self.envelope = envelope
        return .sendReply(SMTPReply(code: 250, .init(2, 1, 5), "Ok"))
    }

    private mutating func dataReceived() -> Action {
        guard let envelope else {
            return error(SMTPReply(code: 503, .init(5, 5, 1), "Error: need RCPT command"))
        }
        guard !envelope.recipients.isEmpty else {
            return error(SMTPReply(code: 554, .init(5, 5, 1), "Error: no valid recipients"))
        }
        phase = .openingMessage
        return .startMessage(envelope)
    }

    /// Ends the transaction; XFORWARD attributes describe one transaction only, as in Postfix.
    private mutating func resetTransaction() {
        envelope = nil
        client = ClientInfo()
        if case .closed = phase { return }
        phase = .idle
    }

    /// Counts an erroneous command and answers it, closing the session past the error limit.
    private mutating func error(_ reply: SMTPReply) -> Action {
        errorCount += 1
        guard errorCount < configuration.maximumErrors else {
            phase = .closed
            return .sendReplyAndClose(SMTPReply(code: 421, .init(4, 7, 0), "\(configuration.hostname) Error: too many errors"))
        }
        return .sendReply(reply)
    }
}
