import Dispatch
import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One SMTP reply: its code and every line's text.
struct RawSMTPReply: Sendable, CustomStringConvertible {
    /// The three-digit code.
    let code: Int
    /// The reply as received, lines joined with `\n`.
    let text: String

    var description: String { text }
}

/// An SMTP conversation over a plain TCP socket, sending exactly the bytes a test gives it:
/// for smuggling probes, or to stop in the middle of DATA. The blocking socket calls run on a
/// Dispatch queue, never on the concurrency pool; every read times out.
final class RawSMTPConnection: Sendable {
    private let descriptor: Int32
    private let buffer = Mutex<[UInt8]>([])
    private let queue = DispatchQueue(label: "RawSMTPConnection")

    /// Connects to `127.0.0.1:port` (the greeting is not read yet).
    /// - Parameters:
    ///   - port: The server port.
    ///   - readTimeout: How long one read may wait.
    /// - Throws: `HarnessError.Code.socketFailed`.
    init(port: UInt16, readTimeout: Duration = .seconds(30)) throws {
        let descriptor = try openSocket()
        var timeout = timeval(tv_sec: Int(readTimeout.components.seconds), tv_usec: 0)
        setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        guard connectToLoopback(descriptor, port: port) else {
            let error = errno
            close(descriptor)
            throw HarnessError(code: .socketFailed, message: "connect(127.0.0.1:\(port)) failed: errno \(error)")
        }
        self.descriptor = descriptor
    }

    deinit {
        close(descriptor)
    }

    /// Sends `bytes` as they are.
    /// - Throws: `HarnessError.Code.socketFailed`.
    func send(_ bytes: [UInt8]) async throws {
        let descriptor = self.descriptor
        try await offload {
            var offset = 0
            while offset < bytes.count {
                let written = bytes[offset...].withUnsafeBytes { sendWithoutSignal(descriptor, $0) }
                guard written > 0 else {
                    throw HarnessError(code: .socketFailed, message: "send failed: errno \(errno)")
                }
                offset += written
            }
        }
    }

    /// Sends `text` in UTF-8, as it is (no line ending added).
    /// - Throws: `HarnessError.Code.socketFailed`.
    func send(_ text: String) async throws {
        try await send(Array(text.utf8))
    }

    /// Reads one complete (possibly multi-line) reply.
    /// - Throws: `HarnessError.Code.socketFailed` on a timeout, an error or end of stream.
    func readReply() async throws -> RawSMTPReply {
        var lines: [String] = []
        while true {
            let line = try await readLine()
            lines.append(line)
            let bytes = Array(line.utf8)
            if bytes.count < 4 || bytes[3] != UInt8(ascii: "-") {
                guard bytes.count >= 3, let code = Int(String(decoding: bytes[..<3], as: UTF8.self)) else {
                    throw HarnessError(code: .socketFailed, message: "not an SMTP reply: \(lines)")
                }
                return RawSMTPReply(code: code, text: lines.joined(separator: "\n"))
            }
        }
    }

    /// Sends `line` with CRLF and reads the reply.
    /// - Throws: `HarnessError.Code.socketFailed`.
    @discardableResult
    func command(_ line: String) async throws -> RawSMTPReply {
        try await send(line + "\r\n")
        return try await readReply()
    }

    /// Sends `line` with CRLF and requires a reply with `code`.
    /// - Throws: `HarnessError.Code.processFailed` naming the command and the reply otherwise.
    @discardableResult
    func command(_ line: String, expecting code: Int) async throws -> RawSMTPReply {
        let reply = try await command(line)
        guard reply.code == code else {
            throw HarnessError(code: .processFailed, message: "\(line) got \"\(reply)\", expected \(code)")
        }
        return reply
    }

    /// Whether the server has closed the connection (reads until end of stream or timeout).
    func isClosedByServer() async -> Bool {
        let descriptor = self.descriptor
        return (try? await offload {
            var byte: UInt8 = 0
            while true {
                let count = recv(descriptor, &byte, 1, 0)
                if count == 0 { return true }
                if count < 0 { return false }
            }
        }) ?? false
    }

    private func readLine() async throws -> String {
        while true {
            let line: String? = buffer.withLock { buffer in
                guard let lineFeed = buffer.firstIndex(of: UInt8(ascii: "\n")) else { return nil }
                var line = Array(buffer[..<lineFeed])
                buffer.removeFirst(lineFeed + 1)
                if line.last == UInt8(ascii: "\r") { line.removeLast() }
                return String(decoding: line, as: UTF8.self)
            }
            if let line { return line }
            let descriptor = self.descriptor
            let chunk = try await offload {
                var bytes = [UInt8](repeating: 0, count: 4096)
                let count = recv(descriptor, &bytes, bytes.count, 0)
                guard count > 0 else {
                    throw HarnessError(
                        code: .socketFailed,
                        message: count == 0 ? "connection closed by the server" : "recv failed: errno \(errno)"
                    )
                }
                return Array(bytes[..<count])
            }
            buffer.withLock { $0 += chunk }
        }
    }

    private func offload<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            queue.async { continuation.resume(with: Result { try body() }) }
        }
    }
}

/// `send(2)` without SIGPIPE; a free function because `RawSMTPConnection.send` hides the C one.
private func sendWithoutSignal(_ descriptor: Int32, _ bytes: UnsafeRawBufferPointer) -> Int {
    send(descriptor, bytes.baseAddress, bytes.count, Int32(MSG_NOSIGNAL))
}
