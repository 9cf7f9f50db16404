import NIOCore
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Files of removed entries, kept in `tmp/` to hold the next messages instead of creating new
/// ones.
///
/// Creating and deleting two files per message is the largest cost of the spool on ext4: each
/// deletion frees an inode and its blocks, each creation allocates them again, and without a
/// journal ext4 even scans past every inode deleted in the last minutes before it reuses one.
/// A removed file is therefore renamed to `tmp/recycled.N` (a name in `tmp/` is never
/// acknowledged, and recovery empties `tmp/`), and a later commit overwrites it in place,
/// truncates it to its new size, syncs it and renames it into `queue/` exactly as a new file
/// would be: the commit protocol is unchanged.
///
/// All functions block: call them on the spool's thread pool only.
final class RecycledFiles: Sendable {
    private let temporaryDirectory: String
    private let capacity: Int
    private let maximumFileSize: Int
    private let state = Mutex(State())

    private struct State {
        var names: [String] = []
        var nextNumber: UInt64 = 0
    }

    /// - Parameters:
    ///   - temporaryDirectory: The spool's `tmp/`.
    ///   - capacity: How many files to keep at most; 0 turns recycling off.
    ///   - maximumFileSize: Larger files are deleted rather than kept, in octets.
    init(temporaryDirectory: String, capacity: Int, maximumFileSize: Int) {
        self.temporaryDirectory = temporaryDirectory
        self.capacity = capacity
        self.maximumFileSize = maximumFileSize
    }

    /// How many files are kept now.
    var count: Int { state.withLock { $0.names.count } }

    /// Removes a file from `queue/`: keeps it for reuse when there is room and it is small,
    /// deletes it otherwise. Either way its name is gone from `queue/` when this returns.
    ///
    /// - Returns: Whether the file existed.
    /// - Throws: `SpoolError` `.ioFailure` if it exists and can be neither moved nor deleted.
    func remove(_ path: String) throws(SpoolError) -> Bool {
        if let name = reservedName(forFileAt: path) {
            if rename(path, name) == 0 {
                state.withLock { $0.names.append(name) }
                return true
            }
            if errno == ENOENT { return false }
        }
        return try SpoolFiles.remove(path)
    }

    /// Writes `bytes` into a kept file, if there is one, and returns its open descriptor and
    /// its path in `tmp/`.
    ///
    /// - Returns: `nil` if no file is kept (the caller creates a new one).
    /// - Throws: `SpoolError` `.ioFailure` if the file cannot be written; it is then deleted.
    func reuse(for bytes: ByteBuffer) throws(SpoolError) -> (descriptor: CInt, path: String)? {
        while let path = state.withLock({ $0.names.popLast() }) {
            let descriptor = open(path, O_WRONLY | O_CLOEXEC)
            guard descriptor >= 0 else {
                SpoolFiles.unlinkIfPresent(path)
                continue
            }
            do throws(SpoolError) {
                try SpoolFiles.write(bytes, to: descriptor, at: 0, path: path)
                guard ftruncate(descriptor, off_t(bytes.readableBytes)) == 0 else {
                    throw SpoolError.systemCall("cannot truncate file", path: path)
                }
            } catch {
                close(descriptor)
                SpoolFiles.unlinkIfPresent(path)
                throw error
            }
            return (descriptor, path)
        }
        return nil
    }

    /// A fresh `tmp/recycled.N` name for the file at `path`, or `nil` if it is not to be kept
    /// (no room, too large, or not a regular file).
    private func reservedName(forFileAt path: String) -> String? {
        guard capacity > 0, count < capacity else { return nil }
        var status = stat()
        guard lstat(path, &status) == 0, (status.st_mode & S_IFMT) == S_IFREG, Int(status.st_size) <= maximumFileSize else {
            return nil
        }
        let number = state.withLock { state in
            defer { state.nextNumber += 1 }
            return state.nextNumber
        }
        return "\(temporaryDirectory)/recycled.\(number)"
    }
}
