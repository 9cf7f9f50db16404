import NIOCore

/// Splits the bytes a client sends into command lines and message content: the framing stage
/// in front of the command parser (compare IMAP literals).
///
/// In command mode it yields one line at a time. After the state machine accepts `DATA`, the
/// caller switches it to data mode with ``beginData()``; it then yields the message content
/// with dot-stuffing removed (RFC 5321 §4.5.2) and ends the content only at `CRLF.CRLF`. A bare
/// CR or bare LF never ends a line in the content, so `\n.\n` and its relatives (the SMTP
/// smuggling class, CVE-2023-51764) are ordinary content. After the end of the content the
/// framer is in command mode again, so pipelined commands that follow are read as commands.
///
/// Memory stays bounded: content is yielded as it arrives and an over-long command line is
/// reported and discarded, never buffered whole.
public struct SMTPFramer: Sendable {
    /// What the framer found next.
    public enum Frame: Sendable, Hashable {
        /// A command line without its CRLF.
        case commandLine(ByteBuffer)
        /// A command line longer than the limit; its bytes were discarded up to its LF.
        case commandLineTooLong
        /// A command line that ended in a bare LF; the line itself is dropped.
        case bareLineFeedInCommand
        /// A piece of message content, already un-stuffed.
        case content(ByteBuffer)
        /// The `CRLF.CRLF` that ends the content was read.
        case endOfContent
    }

    private enum CommandState: Sendable {
        case reading
        case discardingLongLine
    }

    /// Where the data reader stands relative to line boundaries. Only CRLF starts a line.
    private enum DataState: Sendable {
        /// After CRLF (or at the very start of the content).
        case lineStart
        /// Inside a line.
        case inLine
        /// After a CR inside a line (the CR has been yielded as content already).
        case sawCR
        /// After a dot at the start of a line (the dot is withheld).
        case sawDot
        /// After `.` and CR at the start of a line (both withheld).
        case sawDotCR
    }

    private enum Mode: Sendable {
        case command(CommandState)
        case data(DataState)
    }

    /// The longest command line accepted, in octets including CRLF.
    public let maximumCommandLineLength: Int
    private var buffer = ByteBuffer()
    private var mode: Mode = .command(.reading)
    /// Set when the last content frame was followed by the end of the content.
    private var pendingEndOfContent = false

    /// Creates a framer.
    /// - Parameter maximumCommandLineLength: the longest command line accepted, including CRLF.
    ///   RFC 5321 §4.5.3.1.4 sets 512 octets for the base protocol and lets extensions raise it;
    ///   the default of 4096 leaves room for every parameter the server offers (Postfix uses 2048).
    public init(maximumCommandLineLength: Int = 4096) {
        self.maximumCommandLineLength = maximumCommandLineLength
    }

    /// Whether the framer is reading message content.
    public var isReadingContent: Bool {
        if case .data = mode { return true }
        return false
    }

    /// Bytes received but not yet framed.
    public var bufferedByteCount: Int { buffer.readableBytes }

    /// Adds received bytes.
    public mutating func append(_ bytes: ByteBuffer) {
        if buffer.readableBytes == 0 {
            buffer = bytes
        } else {
            // ByteBuffer never reclaims read bytes by itself: without this, a client whose reads
            // always end mid-line would grow the buffer by every command line it ever sent.
            buffer.discardReadBytes()
            var bytes = bytes
            buffer.writeBuffer(&bytes)
        }
    }

    /// Switches to data mode; call after answering `DATA` with 354.
    public mutating func beginData() {
        mode = .data(.lineStart)
    }

    /// Returns the next frame, or `nil` when more bytes are needed.
    public mutating func nextFrame() -> Frame? {
        if pendingEndOfContent {
            pendingEndOfContent = false
            return .endOfContent
        }
        switch mode {
        case .command(let state):
            return nextCommandFrame(state)
        case .data(let state):
            return nextContentFrame(state)
        }
    }

    // MARK: - Command mode

    private mutating func nextCommandFrame(_ state: CommandState) -> Frame? {
        let view = buffer.readableBytesView
        guard let lineFeed = view.firstIndex(of: UInt8(ascii: "\n")) else {
            if view.count >= maximumCommandLineLength {
                buffer.moveReaderIndex(forwardBy: view.count)
                buffer.discardReadBytes()
                if case .reading = state {
                    mode = .command(.discardingLongLine)
                    return .commandLineTooLong
                }
            }
            return nil
        }
        let lineLength = lineFeed - view.startIndex
        let line = buffer.readSlice(length: lineLength)!
        buffer.moveReaderIndex(forwardBy: 1)
        switch state {
        case .discardingLongLine:
            mode = .command(.reading)
            return nextCommandFrame(.reading)
        case .reading:
            if lineLength + 1 > maximumCommandLineLength {
                return .commandLineTooLong
            }
            guard line.readableBytesView.last == UInt8(ascii: "\r") else {
                return .bareLineFeedInCommand
            }
            return .commandLine(line.getSlice(at: line.readerIndex, length: lineLength - 1)!)
        }
    }

    // MARK: - Data mode

    private mutating func nextContentFrame(_ initial: DataState) -> Frame? {
        guard buffer.readableBytes > 0 else { return nil }
        var state = initial
        // The run of content that can be yielded as one slice starts at `runStart`.
        let start = buffer.readerIndex
        var runStart = start
        var output = ByteBuffer()
        var ended = false
        var consumed = 0
        buffer.withUnsafeReadableBytes { bytes in
                var index = 0
            func flushRun(upTo end: Int) {
                if end > runStart - start {
                    output.writeBytes(UnsafeRawBufferPointer(rebasing: bytes[(runStart - start)..<end]))
                }
            }
            scan: while index < bytes.count {
                let byte = bytes[index]
                switch state {
                case .inLine:
                    // Fast path: jump to the next CR, the only byte that can change the state.
                    if let cr = UnsafeRawBufferPointer(rebasing: bytes[index...]).firstIndex(of: UInt8(ascii: "\r")) {
                        index += cr + 1
                        state = .sawCR
                    } else {
                        index = bytes.count
                    }
                    continue scan
                case .sawCR:
                    state = byte == UInt8(ascii: "\n") ? .lineStart : (byte == UInt8(ascii: "\r") ? .sawCR : .inLine)
                    index += 1
                case .lineStart:
                    if byte == UInt8(ascii: ".") {
                        flushRun(upTo: index)
                        state = .sawDot
                        index += 1
                        runStart = start + index
                    } else {
                        state = byte == UInt8(ascii: "\r") ? .sawCR : .inLine
                        index += 1
                    }
                case .sawDot:
                    // The dot was stuffing (RFC 5321 §4.5.2): it stays dropped.
                    if byte == UInt8(ascii: "\r") {
                        state = .sawDotCR
                        index += 1
                        runStart = start + index
                    } else {
                        state = .inLine
                    }
                case .sawDotCR:
                    if byte == UInt8(ascii: "\n") {
                        index += 1
                        ended = true
                        break scan
                    }
                    // `.` CR and something other than LF: the withheld CR is content.
                    output.writeInteger(UInt8(ascii: "\r"))
                    state = .inLine
                    runStart = start + index
                    if byte == UInt8(ascii: "\r") {
                        state = .sawCR
                        index += 1
                    }
                }
            }
            if !ended {
                flushRun(upTo: index)
            }
            consumed = index
        }
        buffer.moveReaderIndex(forwardBy: consumed)
        buffer.discardReadBytes()
        if ended {
            mode = .command(.reading)
            if output.readableBytes > 0 {
                pendingEndOfContent = true
                return .content(output)
            }
            return .endOfContent
        }
        mode = .data(state)
        return output.readableBytes > 0 ? .content(output) : nil
    }
}
