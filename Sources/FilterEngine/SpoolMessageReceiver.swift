import FilterCore
import FilterSMTP
import Foundation
import Logging
import NIOCore

/// Receives messages from the SMTP server into the spool and hands each committed one to the
/// delivery queue, with its bytes when it was small enough to be held in memory.
struct SpoolMessageReceiver: SMTPMessageReceiver {
    let spool: Spool
    /// Completes each entry before its commit (the request ids, when owners are asked).
    let prepare: @Sendable (inout SpoolEntry) -> Void
    let onCommit: @Sendable (SpoolEntry, ByteBuffer?) async -> Void

    func openMessage(for envelope: Envelope, logger: Logger) async throws -> any SMTPIncomingMessage {
        IncomingMessage(writer: spool.beginMessage(), prepare: prepare, onCommit: onCommit)
    }

    private struct IncomingMessage: SMTPIncomingMessage {
        let writer: SpoolWriter
        let prepare: @Sendable (inout SpoolEntry) -> Void
        let onCommit: @Sendable (SpoolEntry, ByteBuffer?) async -> Void

        var queueID: QueueID { writer.queueID }

        func append(_ content: ByteBuffer) async throws {
            try await writer.write(content)
        }

        func commit(envelope: Envelope) async throws {
            let entry = try await writer.commit(envelope: envelope, receivedAt: Date(), prepare: prepare)
            FilterMetrics.messageAccepted(bytes: entry.messageSize)
            await onCommit(entry, await writer.committedContent)
        }

        func discard() async {
            await writer.abort()
        }
    }
}
