import Foundation

/// Writing a message to files failed; the message names the path and the system's reason.
public struct OutputError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The kind of failure; an open set so that later kinds do not break callers.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        /// A short name for logs.
        public let name: String

        /// A directory or file could not be created or written.
        public static let writeFailed = Code(name: "writeFailed")
        /// The client received only part of the message, which a mailbox must not get.
        public static let truncatedMessage = Code(name: "truncatedMessage")

        public var description: String { name }
    }

    /// The kind of failure.
    public var code: Code
    /// What went wrong, with the path.
    public var message: String

    /// Creates an error.
    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}

/// Files created once: written under a temporary name, flushed, then hard-linked to their final
/// name, which fails when the name exists, so two writers (or a redelivered request) never
/// replace or duplicate a file and no reader sees a partial one.
enum OutputFiles {
    /// Creates `directory` and its parents (mode 0700) unless they exist.
    static func makeDirectory(_ directory: String) throws(OutputError) {
        do {
            try FileManager.default.createDirectory(
                atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            throw OutputError(.writeFailed, "cannot create the directory \(directory): \(error.localizedDescription)")
        }
    }

    /// Whether something exists at `path` (a dangling link counts).
    static func exists(_ path: String) -> Bool {
        var status = stat()
        return lstat(path, &status) == 0
    }

    /// Whether `directory` has an entry whose name starts with `prefix` (a Maildir message in
    /// `cur/` carries its flags after the unique name).
    static func directory(_ directory: String, hasEntryStartingWith prefix: String) -> Bool {
        ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).contains { $0.hasPrefix(prefix) }
    }

    /// Writes `contents` to `path` (mode 0600) unless it exists, through `temporary`.
    /// - Returns: whether the file was written; `false` when it existed.
    /// - Throws: ``OutputError`` when writing fails; the temporary file is removed.
    @discardableResult
    static func createOnce(_ path: String, contents: [UInt8], temporary: String) throws(OutputError) -> Bool {
        if exists(path) { return false }
        try write(contents, to: temporary)
        defer { unlink(temporary) }
        guard link(temporary, path) == 0 else {
            let code = errno
            if code == EEXIST { return false }
            throw OutputError(.writeFailed, "cannot create \(path): \(String(cString: strerror(code)))")
        }
        syncDirectory(of: path)
        return true
    }

    /// Writes a new file and flushes it to disk.
    private static func write(_ contents: [UInt8], to path: String) throws(OutputError) {
        let descriptor = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else {
            throw OutputError(.writeFailed, "cannot create \(path): \(String(cString: strerror(errno)))")
        }
        var failure: Int32 = 0
        contents.withUnsafeBytes { buffer in
            var offset = 0
            while offset < buffer.count {
                let written = Foundation.write(descriptor, buffer.baseAddress! + offset, buffer.count - offset)
                if written < 0 {
                    if errno == EINTR { continue }
                    failure = errno
                    return
                }
                offset += written
            }
        }
        if failure == 0, fsync(descriptor) != 0 { failure = errno }
        close(descriptor)
        guard failure == 0 else {
            unlink(path)
            throw OutputError(.writeFailed, "cannot write \(path): \(String(cString: strerror(failure)))")
        }
    }

    /// Flushes the directory entry of `path`, so the new name survives a crash.
    private static func syncDirectory(of path: String) {
        let directory = (path as NSString).deletingLastPathComponent
        let descriptor = open(directory.isEmpty ? "." : directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard descriptor >= 0 else { return }
        fsync(descriptor)
        close(descriptor)
    }

    /// A file name for a request id: letters, digits, `-`, `_` and `.` kept (not a leading
    /// dot), other octets as `%XX`; an id that would make a name longer than 200 octets is
    /// replaced by `sha256-<hex of its SHA-256>`.
    static func name(for id: String) -> String {
        var name = ""
        for (index, byte) in id.utf8.enumerated() {
            let scalar = Unicode.Scalar(byte)
            let plain = scalar.isASCII && (scalar.properties.isAlphabetic || ("0"..."9").contains(scalar) || scalar == "-" || scalar == "_")
            if plain || (scalar == "." && index > 0) {
                name.unicodeScalars.append(scalar)
            } else {
                name += "%" + Digest.hex([byte]).uppercased()
            }
        }
        return name.utf8.count > 200 ? "sha256-" + Digest.hex(Digest.sha256(Array(id.utf8))) : name
    }
}
