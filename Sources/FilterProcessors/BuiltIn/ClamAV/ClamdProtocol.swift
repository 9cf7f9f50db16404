import NIOCore

/// What clamd found in a stream.
public struct ClamdScanResult: Sendable, Hashable {
    /// The signature that matched (`Eicar-Signature`, `Local.Test.UNOFFICIAL`), `nil` when clean.
    public var signature: String?

    /// Creates a result.
    public init(signature: String?) { self.signature = signature }

    /// Whether nothing was found.
    public var isClean: Bool { signature == nil }
}

/// clamd's `INSTREAM` and `PING` as pure functions. Commands use the `z` form (NUL-terminated
/// command and answer). `INSTREAM` data goes in chunks, each a 4-byte big-endian length and
/// that many bytes, ended by a zero length; clamd answers `stream: OK`, `stream: NAME FOUND`,
/// or `... ERROR` (for example `INSTREAM size limit exceeded. ERROR` past its `StreamMaxLength`).
///
/// - SeeAlso: clamd(8), "COMMANDS".
enum ClamdProtocol {
    /// `zINSTREAM` with `message` in chunks of at most `chunkSize` bytes (positive, at most
    /// `UInt32.max`, as ``ClamdClient`` checks).
    static func encodeInstream(_ message: [UInt8], chunkSize: Int) -> ByteBuffer {
        let chunks = (message.count + chunkSize - 1) / chunkSize
        var buffer = ByteBuffer()
        buffer.reserveCapacity(10 + message.count + 4 * (chunks + 1))
        buffer.writeString("zINSTREAM\0")
        var start = 0
        while start < message.count {
            let end = min(start + chunkSize, message.count)
            buffer.writeInteger(UInt32(end - start), endianness: .big)
            buffer.writeBytes(message[start..<end])
            start = end
        }
        buffer.writeInteger(UInt32(0), endianness: .big)
        return buffer
    }

    /// `zPING`.
    static func encodePing() -> ByteBuffer {
        ByteBuffer(string: "zPING\0")
    }

    /// Reads the answer to `PING`.
    /// - Throws: ``DaemonError`` with `invalidResponse` unless it is `PONG`.
    static func parsePong(_ bytes: ByteBuffer) throws(DaemonError) {
        let answer = try reply(bytes)
        guard answer == "PONG" else { throw DaemonError(.invalidResponse, "clamd: unexpected answer to PING: \"\(answer)\"") }
    }

    /// Reads the answer to `INSTREAM`.
    /// - Throws: ``DaemonError``: `messageTooLarge` past clamd's `StreamMaxLength`,
    ///   `daemonFailed` for other `ERROR` answers, `invalidResponse` for anything else.
    static func parseInstreamResponse(_ bytes: ByteBuffer) throws(DaemonError) -> ClamdScanResult {
        let answer = try reply(bytes)
        if answer.hasSuffix(" ERROR") {
            if answer.contains("size limit exceeded") {
                throw DaemonError(.messageTooLarge, "clamd did not scan the message: \(answer) (raise StreamMaxLength, or lower max_stream_bytes)")
            }
            throw DaemonError(.daemonFailed, "clamd could not scan the message: \(answer)")
        }
        guard answer.hasPrefix("stream: ") else {
            throw DaemonError(.invalidResponse, "clamd: unexpected answer to INSTREAM: \"\(answer.prefix(200))\"")
        }
        let verdict = answer.dropFirst("stream: ".count)
        if verdict == "OK" { return ClamdScanResult(signature: nil) }
        guard verdict.hasSuffix(" FOUND"), verdict.count > " FOUND".count else {
            throw DaemonError(.invalidResponse, "clamd: unexpected answer to INSTREAM: \"\(answer.prefix(200))\"")
        }
        return ClamdScanResult(signature: String(verdict.dropLast(" FOUND".count)))
    }

    /// The answer without its terminator (NUL for `z` commands, newline for `n` ones).
    private static func reply(_ bytes: ByteBuffer) throws(DaemonError) -> String {
        let raw = bytes.readableBytesView
        guard let last = raw.last, last == 0 || last == 10 else {
            throw DaemonError(.invalidResponse, "clamd: the answer is cut short: \"\(String(buffer: bytes).prefix(200))\"")
        }
        return String(decoding: raw.dropLast(), as: UTF8.self)
    }
}
