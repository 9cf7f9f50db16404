import Dispatch
import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Blocking file work of the store. Callers run it off the cooperative pool: inside a GRDB
/// access (GRDB's own queues) or through ``offPool(_:)``.
enum QuarantineFiles {
    /// Writes `bytes` to `temporaryPath`, syncs it, renames it to `finalPath` and syncs the
    /// directory, so the file is complete and durable under its final name or absent.
    static func writeDurably(_ bytes: [UInt8], temporaryPath: String, finalPath: String) throws(QuarantineError) {
        let descriptor = open(temporaryPath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw .systemCall("cannot create the message file", path: temporaryPath) }
        var written = 0
        while written < bytes.count {
            let result = bytes.withUnsafeBytes { buffer in
                write(descriptor, buffer.baseAddress! + written, buffer.count - written)
            }
            if result < 0 {
                if errno == EINTR { continue }
                let error = QuarantineError.systemCall("cannot write the message file", path: temporaryPath)
                close(descriptor)
                unlink(temporaryPath)
                throw error
            }
            written += result
        }
        if fsync(descriptor) != 0 {
            let error = QuarantineError.systemCall("cannot sync the message file", path: temporaryPath)
            close(descriptor)
            unlink(temporaryPath)
            throw error
        }
        close(descriptor)
        guard rename(temporaryPath, finalPath) == 0 else {
            let error = QuarantineError.systemCall("cannot move the message file into place", path: finalPath)
            unlink(temporaryPath)
            throw error
        }
        try syncDirectory(of: finalPath)
    }

    /// Reads a whole file, or its first `maximumBytes` octets.
    static func readFile(_ path: String, maximumBytes: Int = .max) throws(QuarantineError) -> [UInt8] {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else {
            if errno == ENOENT {
                throw QuarantineError(code: .corrupt, message: "the message file of this entry is missing", path: path)
            }
            throw .systemCall("cannot open the message file", path: path)
        }
        defer { close(descriptor) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        while bytes.count < maximumBytes {
            let wanted = min(chunk.count, maximumBytes - bytes.count)
            let count = chunk.withUnsafeMutableBytes { read(descriptor, $0.baseAddress!, wanted) }
            if count < 0 {
                if errno == EINTR { continue }
                throw .systemCall("cannot read the message file", path: path)
            }
            if count == 0 { break }
            bytes.append(contentsOf: chunk[..<count])
        }
        return bytes
    }

    /// Creates a directory (mode 0700) unless it exists.
    static func makeDirectory(_ path: String) throws(QuarantineError) {
        if mkdir(path, 0o700) != 0, errno != EEXIST {
            throw .systemCall("cannot create the directory", path: path)
        }
    }

    /// The names in a directory, without `.` and `..`.
    static func names(in directory: String) throws(QuarantineError) -> [String] {
        do {
            return try FileManager.default.contentsOfDirectory(atPath: directory)
        } catch {
            throw QuarantineError(code: .ioFailure, message: "cannot list the directory", path: directory, reason: "\(error)")
        }
    }

    /// Removes a file; a file already gone is not an error.
    static func removeFile(_ path: String) throws(QuarantineError) {
        if unlink(path) != 0, errno != ENOENT {
            throw .systemCall("cannot remove the message file", path: path)
        }
    }

    private static func syncDirectory(of path: String) throws(QuarantineError) {
        let directory = (path as NSString).deletingLastPathComponent
        let descriptor = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard descriptor >= 0 else { throw .systemCall("cannot open the directory to sync it", path: directory) }
        defer { close(descriptor) }
        guard fsync(descriptor) == 0 else { throw .systemCall("cannot sync the directory", path: directory) }
    }

    /// Runs blocking file work on a global dispatch queue, so no cooperative thread waits on
    /// the disk.
    static func offPool<Value: Sendable>(
        _ body: @escaping @Sendable () throws(QuarantineError) -> Value
    ) async throws(QuarantineError) -> Value {
        let result: Result<Value, QuarantineError> = await withCheckedContinuation { continuation in
            DispatchQueue.global().async {
                continuation.resume(returning: Result { () throws(QuarantineError) in try body() })
            }
        }
        return try result.get()
    }
}
