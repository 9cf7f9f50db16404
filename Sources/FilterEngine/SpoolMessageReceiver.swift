import FilterCore
import FilterSMTP
import Foundation
import Logging
import NIOCore

/// Receives messages from the SMTP server into the spool and hands each committed one to the
/// delivery queue, with its bytes when it was small enough to be held in memory.
struct SpoolMessageReceiver: SMTPMessageReceiver {
    let spool: Spool
    let onCommit: @Sendable (SpoolEntry, ByteBuffer?) async -> Void

    func openMessage(for envelope: Envelope, logger: Logger) async throws -> any SMTPIncomingMessage {
        IncomingMessage(writer: spool.beginMessage(), onCommit: onCommit)
    }

    private struct IncomingMessage: SMTPIncomingMessage {
        let writer: SpoolWriter
        let onCommit: @Sendable (SpoolEntry, ByteBuffer?) async -> Void

        var queueID: QueueID { writer.queueID }

        func append(_ content: ByteBuffer) async throws {
            try await writer.write(content)
        }

        func commit(envelope: Envelope) async throws {
            let entry = try await writer.commit(envelope: envelope, receivedAt: Date())
            await onCommit(entry, await writer.committedContent)
        }

        func discard() async {
            await writer.abort()
        }
    }
}
