import FilterCore
import Logging
import NIOCore

/// Where the SMTP server puts the messages it accepts; the engine implements it over the spool.
public protocol SMTPMessageReceiver: Sendable {
    /// Opens storage for the message of a complete envelope, after `DATA` and before 354.
    /// - Throws: any error; the client then gets `451 4.3.0` and may try again.
    func openMessage(for envelope: Envelope, logger: Logger) async throws -> any SMTPIncomingMessage
}

/// One message being received: content is appended, then it is committed or discarded.
public protocol SMTPIncomingMessage: Sendable {
    /// The queue id the message will have.
    var queueID: QueueID { get }
    /// Appends content, in order.
    func append(_ content: ByteBuffer) async throws
    /// Makes message and envelope durable; the server says 250 only after this returns.
    func commit(envelope: Envelope) async throws
    /// Throws the message away (the client was refused, or went away).
    func discard() async
}
