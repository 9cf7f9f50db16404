import FilterCore
import Foundation
import NIOCore

/// Counts the `Received` fields in the header section of a message while its content streams
/// past, so the server can refuse a message that loops (RFC 5321 §6.3) without buffering it.
///
/// Lines end at LF (with or without CR) for this purpose; the header section ends at the first
/// empty line.
public struct ReceivedHeaderCounter: Sendable {
    /// How many `Received:` fields the header section has so far.
    public private(set) var count = 0
    private var headerSectionEnded = false
    private var lineStart: [UInt8] = []
    private var lineStartComplete = false
    private static let fieldName = Array("received".utf8)

    /// Creates a counter at the start of a message.
    public init() {}

    /// Scans the next piece of content.
    public mutating func scan(_ content: ByteBuffer) {
        guard !headerSectionEnded else { return }
        let view = content.readableBytesView
        var index = view.startIndex
        while index < view.endIndex, !headerSectionEnded {
            if lineStartComplete {
                guard let lineFeed = view[index...].firstIndex(of: UInt8(ascii: "\n")) else { return }
                index = lineFeed
            }
            let byte = view[index]
            index += 1
            if byte == UInt8(ascii: "\n") {
                endLine()
            } else if lineStart.count < Self.fieldName.count + 16 {
                lineStart.append(byte)
            } else {
                lineStartComplete = true
            }
        }
    }

    private mutating func endLine() {
        if lineStart.isEmpty || lineStart == [UInt8(ascii: "\r")] {
            headerSectionEnded = true
        } else if Self.isReceivedField(lineStart) {
            count += 1
        }
        lineStart.removeAll(keepingCapacity: true)
        lineStartComplete = false
    }

    /// `Received` in any case, optional white space (RFC 5322 obsolete syntax), then a colon.
    private static func isReceivedField(_ bytes: [UInt8]) -> Bool {
        guard bytes.count > fieldName.count,
            zip(bytes, fieldName).allSatisfy({ ($0 | 0x20) == $1 })
        else { return false }
        let rest = bytes.dropFirst(fieldName.count).drop { $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\t") }
        return rest.first == UInt8(ascii: ":")
    }
}

/// Builds the `Received` field the filter adds to each message it accepts (RFC 5321 §4.4).
public enum ReceivedHeader {
    /// Formats the field, folded and ending in CRLF.
    /// - Parameters:
    ///   - peerHelo: the HELO/EHLO name of the peer that handed us the message.
    ///   - peerAddress: the peer's IP address.
    ///   - hostname: the filter's own host name.
    ///   - protocolName: `SMTP`, `ESMTP` or `UTF8SMTP` (RFC 3848, RFC 6531 §3.7.3).
    ///   - queueID: the filter's queue id.
    ///   - recipient: named in a `for` clause only when the message has exactly one recipient.
    ///   - date: the time of receipt.
    public static func make(
        peerHelo: String?, peerAddress: String?, hostname: String, protocolName: String,
        queueID: QueueID, recipient: String?, date: Date
    ) -> String {
        let helo = peerHelo.map(sanitized) ?? "unknown"
        let address = peerAddress.map(sanitized) ?? "unknown"
        var field = "Received: from \(helo) ([\(address)])\r\n\tby \(hostname) (filterd) with \(protocolName) id \(queueID)"
        if let recipient {
            field += "\r\n\tfor <\(sanitized(recipient))>"
        }
        field += "; \(RFC5322Date.format(date))\r\n"
        return field
    }

    /// Keeps values from breaking the field: at most 255 Unicode scalars, with line breaks,
    /// white space, parentheses, brackets and semicolons replaced by `_`.
    private static func sanitized(_ text: String) -> String {
        var result = String.UnicodeScalarView()
        for scalar in text.unicodeScalars.prefix(255) {
            result.append(breaksField(scalar) ? "_" : scalar)
        }
        return String(result)
    }

    private static func breaksField(_ scalar: Unicode.Scalar) -> Bool {
        guard scalar.isASCII else { return scalar.properties.isWhitespace }
        switch scalar {
        case "(", ")", "[", "]", "<", ">", ";", " ", "\t", "\n", "\r", "\u{0B}", "\u{0C}": return true
        default: return false
        }
    }
}
