import Foundation
import NIOCore
import NIOPosix

/// Reads an ``OutboundContent`` in chunks: a file on NIO's blocking-I/O thread pool, so no
/// event loop and no cooperative thread ever waits for the disk, or bytes in memory.
final class OutboundContentReader: Sendable {
    private enum Source: @unchecked Sendable {
        // FileHandle is only touched by one transaction at a time, on the thread pool.
        case file(FileHandle, path: String, offset: Int)
        case bytes(ByteBuffer)
    }

    private let source: Source
    /// The content's size in octets (past the file offset), before canonicalization.
    let size: Int
    private let chunkSize: Int

    private init(source: Source, size: Int, chunkSize: Int) {
        self.source = source
        self.size = size
        self.chunkSize = chunkSize
    }

    /// Opens the content and learns its size.
    /// - Throws: ``SMTPClientError`` ``SMTPClientError/Code/contentUnreadable``.
    static func open(_ content: OutboundContent, chunkSize: Int) async throws -> OutboundContentReader {
        switch content {
        case .bytes(let bytes):
            return OutboundContentReader(source: .bytes(bytes), size: bytes.readableBytes, chunkSize: chunkSize)
        case .file(let path, let offset):
            do {
                let (handle, size) = try await NIOThreadPool.singleton.runIfActive {
                    let handle = try FileHandle(forReadingFrom: URL(fileURLWithPath: path))
                    let size = try handle.seekToEnd()
                    return (UncheckedFileHandle(handle), size)
                }
                guard offset >= 0, offset <= Int(size) else {
                    try? handle.handle.close()
                    throw SMTPClientError(.contentUnreadable, "message file \(path) has \(size) octets, fewer than the offset \(offset)")
                }
                return OutboundContentReader(
                    source: .file(handle.handle, path: path, offset: offset), size: Int(size) - offset, chunkSize: chunkSize)
            } catch let error as SMTPClientError {
                throw error
            } catch {
                throw SMTPClientError(.contentUnreadable, "cannot open message file \(path): \(error)")
            }
        }
    }

    /// The chunk starting at `offset`, or `nil` at the end of the content.
    func read(at offset: Int, allocator: ByteBufferAllocator) async throws -> ByteBuffer? {
        guard offset < size else { return nil }
        switch source {
        case .bytes(let bytes):
            return bytes.getSlice(at: bytes.readerIndex + offset, length: min(chunkSize, size - offset))
        case .file(let handle, let path, let start):
            let wrapped = UncheckedFileHandle(handle)
            let chunkSize = chunkSize
            do {
                let data = try await NIOThreadPool.singleton.runIfActive {
                    try wrapped.handle.seek(toOffset: UInt64(start + offset))
                    return try wrapped.handle.read(upToCount: chunkSize) ?? Data()
                }
                // The file shrank under us; sending a truncated message would lose mail.
                guard !data.isEmpty else {
                    throw SMTPClientError(.contentUnreadable, "message file \(path) ended early at \(start + offset) of \(start + size) octets")
                }
                var buffer = allocator.buffer(capacity: data.count)
                buffer.writeBytes(data)
                return buffer
            } catch let error as SMTPClientError {
                throw error
            } catch {
                throw SMTPClientError(.contentUnreadable, "cannot read message file \(path): \(error)")
            }
        }
    }

    /// Closes the file, if any.
    func close() {
        guard case .file(let handle, _, _) = source else { return }
        try? handle.close()
    }
}

/// Carries a FileHandle to the thread pool and back; it is used by one task at a time.
private struct UncheckedFileHandle: @unchecked Sendable {
    let handle: FileHandle
    init(_ handle: FileHandle) { self.handle = handle }
}
