import Foundation
import NIOCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Streams one message into the spool: `write` its bytes, then `commit` it with its envelope,
/// or `abort`. Use it from one task at a time; overlapping calls fail with `.invalidState`.
///
/// Small writes collect in memory. The file in `tmp/` is created, and written in chunks of
/// `SpoolConfiguration.flushThreshold` bytes on the spool's thread pool, only once the message
/// outgrows that threshold; a smaller message is written by its commit batch, in the same
/// thread-pool job that syncs and renames it.
public actor SpoolWriter {
    /// The id the message will have once committed (`250 2.0.0 Ok: queued as ID`).
    public nonisolated let queueID: QueueID
    /// How many bytes were written so far; exactly the size the message file will have.
    public private(set) var bytesWritten = 0
    /// After a successful `commit` of a message that was still wholly in memory (no larger
    /// than `flushThreshold`): its bytes, so the caller can deliver it without reading the
    /// file back. `nil` otherwise.
    public private(set) var committedContent: ByteBuffer?

    private enum State {
        /// Accepting writes; `descriptor` is the open file in `tmp/`, `nil` while everything
        /// written is still in memory.
        case open(descriptor: CInt?)
        /// A call is running on the thread pool.
        case busy(descriptor: CInt?)
        /// Committed, aborted or failed; the file descriptor, if any, is closed.
        case closed
    }

    private var state: State
    private var buffer: ByteBuffer
    private var flushedBytes = 0
    private let temporaryPath: String
    private let spool: Spool

    init(queueID: QueueID, temporaryPath: String, spool: Spool) {
        self.queueID = queueID
        self.state = .open(descriptor: nil)
        self.temporaryPath = temporaryPath
        self.spool = spool
        self.buffer = ByteBuffer()
    }

    /// Appends bytes to the message.
    ///
    /// - Throws: `SpoolError` `.ioFailure` if the file cannot be written (the message is then
    ///   discarded and the writer closed), `.invalidState` after `commit`/`abort`.
    public func write(_ bytes: ByteBuffer) async throws(SpoolError) {
        var descriptor = try claim()
        if buffer.readableBytes == 0, buffer.capacity == 0 {
            // The first chunk of a message often is all of it: keep it without copying.
            buffer = bytes
        } else {
            buffer.writeImmutableBuffer(bytes)
        }
        bytesWritten += bytes.readableBytes
        if buffer.readableBytes >= spool.configuration.flushThreshold {
            descriptor = try await flush(descriptor)
        }
        state = .open(descriptor: descriptor)
    }

    /// Makes the message and its envelope durable in `queue/` and returns the new entry, with
    /// every recipient `pending`. Returns only once both files are on stable storage, so the
    /// caller may then answer 250.
    ///
    /// - Parameters:
    ///   - envelope: The message's SMTP envelope.
    ///   - receivedAt: When the message was accepted.
    ///   - prepare: Completes the new entry before it is written, for state that must be
    ///     durable from the start (the filter server's request ids), so that it costs no sync
    ///     of its own later.
    /// - Throws: `SpoolError` if the message could not be made durable; nothing of it then
    ///   remains in the spool and the caller must answer with a temporary failure.
    public func commit(
        envelope: Envelope, receivedAt: Date, prepare: @Sendable (inout SpoolEntry) -> Void = { _ in }
    ) async throws(SpoolError) -> SpoolEntry {
        let descriptor = try claim()
        var entry = SpoolEntry(
            queueID: queueID,
            envelope: envelope,
            receivedAt: receivedAt,
            messageSize: bytesWritten,
            recipients: envelope.recipients.map { _ in RecipientDelivery(state: .pending, updatedAt: receivedAt) },
        )
        prepare(&entry)
        let message: CommitRequest.StagedFile.Content
        let envelopeBytes: [UInt8]
        do {
            envelopeBytes = try Spool.encode(entry)
            if let descriptor {
                // Large message: its file exists; write the rest of it first.
                message = .written(descriptor: try await flush(descriptor))
            } else {
                message = .bytes(buffer)
            }
        } catch {
            await discard(descriptor)
            throw error
        }
        state = .closed
        let content = buffer
        buffer = ByteBuffer()
        let request = CommitRequest(
            message: .init(content: message, temporaryPath: temporaryPath, finalPath: spool.messagePath(for: queueID)),
            envelope: .init(
                content: .bytes(ByteBuffer(bytes: envelopeBytes)),
                temporaryPath: spool.temporaryPath(queueID, suffix: "env"),
                finalPath: spool.envelopePath(for: queueID)
            )
        )
        try await spool.committer.run(.commit(request))
        if case .bytes = message { committedContent = content }
        return entry
    }

    /// Discards the message: closes and deletes its temporary file, if it has one. Does
    /// nothing after `commit`, `abort` or a failure, nor while another task's call is still
    /// running on the writer (that call owns the file until it returns).
    public func abort() async {
        switch state {
        case .open(let descriptor):
            await discard(descriptor)
        case .busy, .closed:
            return
        }
    }

    /// Safety net for a writer dropped without `commit` or `abort`: the file was never
    /// acknowledged, so it goes (two quick system calls, no sync).
    deinit {
        switch state {
        case .open(let descriptor), .busy(let descriptor):
            guard let descriptor else { return }
            close(descriptor)
            SpoolFiles.unlinkIfPresent(temporaryPath)
        case .closed:
            break
        }
    }

    /// Marks the writer busy for one call and returns its descriptor.
    private func claim() throws(SpoolError) -> CInt? {
        switch state {
        case .open(let descriptor):
            state = .busy(descriptor: descriptor)
            return descriptor
        case .busy:
            throw SpoolError(code: .invalidState, message: "message \(queueID) written by two tasks at once")
        case .closed:
            throw SpoolError(code: .invalidState, message: "message \(queueID) already committed or aborted")
        }
    }

    /// Writes the buffered bytes to the file, creating it first if needed, in one thread-pool
    /// job; on failure discards the message. Returns the file's descriptor.
    private func flush(_ descriptor: CInt?) async throws(SpoolError) -> CInt {
        if let descriptor, buffer.readableBytes == 0 { return descriptor }
        let chunk = buffer
        let offset = flushedBytes
        let path = temporaryPath
        let written: CInt
        do {
            written = try await spool.runBlocking { () throws(SpoolError) in
                guard let descriptor else { return try SpoolFiles.createFile(path, containing: chunk) }
                try SpoolFiles.write(chunk, to: descriptor, at: offset, path: path)
                return descriptor
            }
        } catch {
            await discard(descriptor)
            throw error
        }
        state = .busy(descriptor: written)
        flushedBytes += chunk.readableBytes
        buffer = ByteBufferAllocator().buffer(capacity: min(spool.configuration.flushThreshold, 64 * 1024))
        return written
    }

    /// Closes and deletes the temporary file, unless that already happened or there is none.
    /// Runs to completion even if the calling task is cancelled, so no descriptor leaks.
    private func discard(_ descriptor: CInt?) async {
        switch state {
        case .open, .busy:
            state = .closed
            buffer = ByteBuffer()
            guard let descriptor else { return }
            let path = temporaryPath
            await spool.runToCompletion {
                close(descriptor)
                SpoolFiles.unlinkIfPresent(path)
            }
        case .closed:
            return
        }
    }
}
