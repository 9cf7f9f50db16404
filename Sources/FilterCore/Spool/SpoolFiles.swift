import NIOCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The blocking POSIX calls the spool makes. Every function here blocks the calling thread and
/// must only run on the spool's thread pool (or at start-up, before the server accepts mail).
enum SpoolFiles {
    /// Creates a new file exclusively (`O_EXCL`, mode 0600) and returns its descriptor.
    static func createExclusive(_ path: String) throws(SpoolError) -> CInt {
        let descriptor = retryingOnInterrupt { open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600) }
        guard descriptor >= 0 else { throw .systemCall("cannot create file", path: path) }
        return descriptor
    }

    /// Writes all readable bytes of `buffer` at `offset`.
    static func write(_ buffer: ByteBuffer, to descriptor: CInt, at offset: Int, path: String) throws(SpoolError) {
        let failure: SpoolError? = buffer.withUnsafeReadableBytes { bytes in
            var done = 0
            while done < bytes.count {
                let count = pwrite(descriptor, bytes.baseAddress! + done, bytes.count - done, off_t(offset + done))
                if count < 0 {
                    if errno == EINTR { continue }
                    return .systemCall("write failed", path: path)
                }
                done += count
            }
            return nil
        }
        if let failure { throw failure }
    }

    /// Writes `bytes` into a new file at `path` and returns its still open descriptor, so that
    /// the caller can sync it in a batch.
    static func createFile(_ path: String, containing bytes: ByteBuffer) throws(SpoolError) -> CInt {
        let descriptor = try createExclusive(path)
        do {
            try write(bytes, to: descriptor, at: 0, path: path)
        } catch {
            close(descriptor)
            unlinkIfPresent(path)
            throw error
        }
        return descriptor
    }

    /// `fsync(2)`: the file's data and size are on stable storage when it returns.
    static func sync(_ descriptor: CInt, path: String) throws(SpoolError) {
        guard retryingOnInterrupt({ fsync(descriptor) }) == 0 else { throw .systemCall("fsync failed", path: path) }
    }

    /// `fdatasync(2)`: the file's data, and the metadata needed to read it back (size, block
    /// map), are on stable storage when it returns; only timestamps may lag. That is all a
    /// spool file needs, and it spares writing the inode of a recycled file overwritten in place.
    static func syncData(_ descriptor: CInt, path: String) throws(SpoolError) {
        guard retryingOnInterrupt({ fdatasync(descriptor) }) == 0 else { throw .systemCall("fdatasync failed", path: path) }
    }

    /// Starts writing a file's dirty pages to disk without waiting (`sync_file_range(2)` with
    /// `SYNC_FILE_RANGE_WRITE`, Linux). Done for every file of a batch before the first
    /// `fsync`, so their data is written together and the journal commit forced by the first
    /// `fsync` already covers most of the others. Only a hint: failures are left to `fsync`.
    static func startWriteback(_ descriptor: CInt) {
        _ = syncFileRangeFunction?(descriptor, 0, 0, 2)
    }

    /// Makes the entries of a directory (creations, renames, removals) durable.
    static func syncDirectory(_ path: String) throws(SpoolError) {
        let descriptor = retryingOnInterrupt { open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC) }
        guard descriptor >= 0 else { throw .systemCall("cannot open directory", path: path) }
        defer { close(descriptor) }
        try sync(descriptor, path: path)
    }

    /// `syncfs(2)`: flushes every dirty file of the file system holding `path`, in one call.
    /// Returns `false` when the C library has no `syncfs` (not Linux).
    static func syncFileSystem(containing path: String) throws(SpoolError) -> Bool {
        guard let syncfs = syncfsFunction else { return false }
        let descriptor = retryingOnInterrupt { open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC) }
        guard descriptor >= 0 else { throw .systemCall("cannot open directory", path: path) }
        defer { close(descriptor) }
        guard syncfs(descriptor) == 0 else { throw .systemCall("syncfs failed", path: path) }
        return true
    }

    /// `rename(2)`, atomically replacing `destination` if it exists.
    static func move(_ source: String, to destination: String) throws(SpoolError) {
        guard rename(source, destination) == 0 else {
            throw .systemCall("cannot rename to \(destination)", path: source)
        }
    }

    /// Removes a file; a file that is already gone is not an error. Returns whether it existed.
    @discardableResult
    static func unlinkIfPresent(_ path: String) -> Bool {
        unlink(path) == 0
    }

    /// Removes a file, reporting every failure except "no such file" (returned as `false`).
    static func remove(_ path: String) throws(SpoolError) -> Bool {
        if unlink(path) == 0 { return true }
        if errno == ENOENT { return false }
        throw .systemCall("cannot remove file", path: path)
    }

    /// The size of a regular file, or `nil` if it does not exist.
    static func fileSize(_ path: String) throws(SpoolError) -> Int? {
        var status = stat()
        if stat(path, &status) == 0 { return Int(status.st_size) }
        if errno == ENOENT { return nil }
        throw .systemCall("cannot stat file", path: path)
    }

    /// The content of a file up to `maximumBytes` octets, or `nil` if it does not exist.
    static func readFile(_ path: String, maximumBytes: Int = .max) throws(SpoolError) -> ByteBuffer? {
        let descriptor = retryingOnInterrupt { open(path, O_RDONLY | O_CLOEXEC) }
        if descriptor < 0 {
            if errno == ENOENT { return nil }
            throw .systemCall("cannot open file", path: path)
        }
        defer { close(descriptor) }
        var status = stat()
        guard fstat(descriptor, &status) == 0 else { throw .systemCall("cannot stat file", path: path) }
        // One read for a file that does not change; grow if it did.
        var content = ByteBufferAllocator().buffer(capacity: min(maximumBytes, max(Int(status.st_size), 0) + 1))
        while content.readableBytes < maximumBytes {
            let wanted = min(maximumBytes - content.readableBytes, content.writableBytes > 0 ? content.writableBytes : 64 * 1024)
            var count = 0
            content.writeWithUnsafeMutableBytes(minimumWritableBytes: wanted) { space in
                count = read(descriptor, space.baseAddress, wanted)
                return max(count, 0)
            }
            if count < 0 {
                if errno == EINTR { continue }
                throw .systemCall("read failed", path: path)
            }
            if count == 0 { break }
        }
        return content
    }

    /// The names in a directory, without `.` and `..`, sorted.
    static func list(_ path: String) throws(SpoolError) -> [String] {
        guard let directory = opendir(path) else { throw .systemCall("cannot open directory", path: path) }
        defer { closedir(directory) }
        var names: [String] = []
        while let item = readdir(directory) {
            let name = withUnsafeBytes(of: item.pointee.d_name) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names.sorted()
    }

    /// Creates a directory with mode 0700 unless it exists.
    static func makeDirectory(_ path: String) throws(SpoolError) {
        if mkdir(path, 0o700) == 0 || errno == EEXIST { return }
        throw .systemCall("cannot create directory", path: path)
    }

    private static func retryingOnInterrupt(_ call: () -> CInt) -> CInt {
        while true {
            let result = call()
            if result >= 0 || errno != EINTR { return result }
        }
    }

    /// `sync_file_range` is Linux-only and not imported by the `Glibc` module either.
    private static let syncFileRangeFunction: (@convention(c) (CInt, Int64, Int64, CUnsignedInt) -> CInt)? = {
        #if os(Linux)
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "sync_file_range") else { return nil }
        return unsafeBitCast(symbol, to: (@convention(c) (CInt, Int64, Int64, CUnsignedInt) -> CInt).self)
        #else
        return nil
        #endif
    }()

    /// `syncfs` is a GNU extension the Swift `Glibc` module does not import, so it is looked up
    /// in the C library at run time.
    private static let syncfsFunction: (@convention(c) (CInt) -> CInt)? = {
        #if os(Linux)
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "syncfs") else { return nil }
        return unsafeBitCast(symbol, to: (@convention(c) (CInt) -> CInt).self)
        #else
        return nil
        #endif
    }()
}
