import FilterCore
import FilterSMTP
import NIOCore

/// A spooled message as one delivery attempt reads it: its bytes in memory when they are
/// there, otherwise read from the spool once and only as far as needed.
struct MessageSource {
    let entry: SpoolEntry
    private(set) var content: ByteBuffer?
    let spool: Spool
    private var cachedParts: Parts?

    /// The header section and where the body starts.
    struct Parts {
        /// The header section with its empty line, or as much as was read.
        var header: [UInt8]
        /// The offset of the body in the message.
        var bodyOffset: Int
        /// Whether the header section ended within the bytes read; when not, edits are put in
        /// front of the unchanged message instead.
        var headerComplete: Bool
    }

    init(entry: SpoolEntry, content: ByteBuffer?, spool: Spool) {
        self.entry = entry
        self.content = content
        self.spool = spool
    }

    /// The header section, read from the first `maximumHeaderBytes` octets.
    mutating func parts(maximumHeaderBytes: Int) async throws(SpoolError) -> Parts {
        if let cachedParts { return cachedParts }
        let start: ByteBuffer
        if let content {
            start = content
        } else {
            start = try await spool.readMessage(entry.queueID, maximumBytes: min(entry.messageSize, maximumHeaderBytes))
        }
        let view = start.readableBytesView.prefix(maximumHeaderBytes)
        let bodyOffset = HeaderRewriter.bodyOffset(of: view)
        let complete = bodyOffset < view.count || view.count == entry.messageSize
        let parts = Parts(header: Array(view.prefix(bodyOffset)), bodyOffset: bodyOffset, headerComplete: complete)
        cachedParts = parts
        return parts
    }

    /// What a transaction sends from `offset` on: a slice of the bytes in memory, the whole
    /// message read in one go when it is small, or the spool file streamed.
    mutating func content(from offset: Int) async throws(SpoolError) -> OutboundContent {
        if content == nil, entry.messageSize <= spool.configuration.flushThreshold {
            content = try await wholeMessage()
        }
        if let content {
            return .bytes(content.getSlice(at: content.readerIndex + offset, length: content.readableBytes - offset) ?? ByteBuffer())
        }
        return .file(path: spool.messagePath(for: entry.queueID), offset: offset)
    }

    /// The whole message, checked against the size recorded at commit: a body that is not
    /// that size must not be sent or kept as if it were whole.
    mutating func wholeMessage() async throws(SpoolError) -> ByteBuffer {
        if let content { return content }
        let bytes = try await spool.readMessage(entry.queueID, maximumBytes: entry.messageSize + 1)
        guard bytes.readableBytes == entry.messageSize else {
            throw SpoolError(
                code: .corrupt, message: "message file has \(bytes.readableBytes) octets, \(entry.messageSize) recorded",
                path: spool.messagePath(for: entry.queueID))
        }
        if entry.messageSize <= spool.configuration.flushThreshold { content = bytes }
        return bytes
    }
}
