import FilterSMTP
import NIOCore

/// What a framer produced, with consecutive content pieces joined, so that runs with different
/// chunkings can be compared.
enum FramedEvent: Sendable, Hashable, CustomStringConvertible {
    case command(String)
    case commandLineTooLong
    case bareLineFeed
    case content([UInt8])
    case endOfContent

    var description: String {
        switch self {
        case .command(let line): "command(\(line.debugDescription))"
        case .commandLineTooLong: "commandLineTooLong"
        case .bareLineFeed: "bareLineFeed"
        case .content(let bytes): "content(\(String(decoding: bytes, as: UTF8.self).debugDescription))"
        case .endOfContent: "endOfContent"
        }
    }
}

/// Drives an ``SMTPFramer`` the way the session does: switches to content mode right after a
/// `DATA` command line.
struct FramerDriver {
    var framer: SMTPFramer
    private(set) var events: [FramedEvent] = []
    /// The largest ``SMTPFramer/bufferedByteCount`` seen after draining the frames of a chunk.
    private(set) var largestBufferedByteCount = 0

    init(maximumCommandLineLength: Int = 4096) {
        framer = SMTPFramer(maximumCommandLineLength: maximumCommandLineLength)
    }

    mutating func feed(_ bytes: some Sequence<UInt8>) {
        framer.append(ByteBuffer(bytes: Array(bytes)))
        while let frame = framer.nextFrame() {
            record(frame)
        }
        largestBufferedByteCount = max(largestBufferedByteCount, framer.bufferedByteCount)
    }

    private mutating func record(_ frame: SMTPFramer.Frame) {
        switch frame {
        case .commandLine(let line):
            let text = String(decoding: line.readableBytesView, as: UTF8.self)
            events.append(.command(text))
            if text.uppercased() == "DATA" { framer.beginData() }
        case .commandLineTooLong:
            events.append(.commandLineTooLong)
        case .bareLineFeedInCommand:
            events.append(.bareLineFeed)
        case .content(let content):
            if case .content(let earlier) = events.last {
                events[events.count - 1] = .content(earlier + Array(content.readableBytesView))
            } else {
                events.append(.content(Array(content.readableBytesView)))
            }
        case .endOfContent:
            events.append(.endOfContent)
        }
    }

    /// Frames the bytes given in the chunks.
    static func events(_ chunks: [[UInt8]], maximumCommandLineLength: Int = 4096) -> [FramedEvent] {
        var driver = FramerDriver(maximumCommandLineLength: maximumCommandLineLength)
        for chunk in chunks { driver.feed(chunk) }
        return driver.events
    }
}
