import NIOCore

/// Turns message bytes, in chunks of any size, into canonical SMTP `DATA` content
/// (RFC 5321 §4.5.2 and §2.3.8).
///
/// Every bare CR, bare LF and CRLF becomes CRLF (a CR at the end of one chunk and an LF at the
/// start of the next are one CRLF), and a line that starts with `.` gets a second one
/// (dot-stuffing). ``finish(into:)`` ends the content with `CRLF . CRLF`, first completing the
/// last line when needed. Because the output has no line end other than CRLF, and every line
/// that starts with a dot is stuffed, the sequence `CRLF . CRLF` appears only as the
/// terminator: no SMTP-smuggling payload (`LF . LF`, `CR . CR`, `LF . CRLF` and the like) that
/// a lenient next hop might read as the end of data can pass through.
public struct OutboundDataEncoder: Sendable {
    /// The previous chunk ended in CR; whether an LF follows is not known yet.
    private var pendingCarriageReturn = false
    /// The next byte written starts a line (true at the start of the content).
    private var atLineStart = true

    /// Creates an encoder at the start of the content.
    public init() {}

    /// Appends the canonical, dot-stuffed form of `input` to `output`.
    public mutating func encode(_ input: ByteBuffer, into output: inout ByteBuffer) {
        // Dot-stuffing and LF expansion add little; reserve once instead of growing per byte.
        output.reserveCapacity(minimumWritableBytes: input.readableBytes + input.readableBytes / 16 + 4)
        var pendingCarriageReturn = self.pendingCarriageReturn
        var atLineStart = self.atLineStart
        input.withUnsafeReadableBytes { bytes in
            var runStart = 0
            var index = 0
            while index < bytes.count {
                let byte = bytes[index]
                if pendingCarriageReturn {
                    pendingCarriageReturn = false
                    output.writeStaticString("\r\n")
                    atLineStart = true
                    if byte == UInt8(ascii: "\n") {
                        index += 1
                        runStart = index
                        continue
                    }
                }
                switch byte {
                case UInt8(ascii: "\r"):
                    output.writeBytes(UnsafeRawBufferPointer(rebasing: bytes[runStart..<index]))
                    pendingCarriageReturn = true
                    index += 1
                    runStart = index
                case UInt8(ascii: "\n"):
                    output.writeBytes(UnsafeRawBufferPointer(rebasing: bytes[runStart..<index]))
                    output.writeStaticString("\r\n")
                    atLineStart = true
                    index += 1
                    runStart = index
                case UInt8(ascii: ".") where atLineStart:
                    // runStart == index here: a line start is always preceded by a flushed line end.
                    output.writeInteger(UInt8(ascii: "."))
                    atLineStart = false
                    index += 1
                default:
                    atLineStart = false
                    index += 1
                }
            }
            output.writeBytes(UnsafeRawBufferPointer(rebasing: bytes[runStart..<bytes.count]))
        }
        self.pendingCarriageReturn = pendingCarriageReturn
        self.atLineStart = atLineStart
    }

    /// Appends the end of the content to `output`: a CRLF if the last line is incomplete, then
    /// the terminator `.` CRLF. The encoder is then back at the start of a new content.
    public mutating func finish(into output: inout ByteBuffer) {
        if pendingCarriageReturn || !atLineStart {
            output.writeStaticString("\r\n")
        }
        output.writeStaticString(".\r\n")
        pendingCarriageReturn = false
        atLineStart = true
    }
}
