import NIOCore

/// The original message as a DSN returns it: line ends made CRLF, over-long lines broken, and
/// split into its header section and the rest.
///
/// Breaking lines changes the returned copy, but a DSN with a line over 998 octets violates
/// RFC 5322 §2.1.1 and may itself bounce; Postfix's `smtp_line_length_limit` does the same.
struct DSNOriginalMessage {
    /// The longest line written, without its CRLF (RFC 5322 §2.1.1).
    static let maximumLineLength = 998

    /// The normalized bytes; every line ends in CRLF.
    let bytes: [UInt8]
    /// The length of the header section in `bytes`, including its last CRLF but not the empty
    /// line that ends it.
    let headerLength: Int
    /// Whether the empty line ending the header section was seen.
    let headerSectionIsComplete: Bool

    /// Normalizes `buffer`.
    init(_ buffer: ByteBuffer) {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(buffer.readableBytes + buffer.readableBytes / 50 + 2)
        var headerLength: Int?
        var lineStart = 0
        var previousWasCR = false

        func endLine() {
            if headerLength == nil, bytes.count == lineStart { headerLength = lineStart }
            bytes += [0x0D, 0x0A]
            lineStart = bytes.count
        }

        for byte in buffer.readableBytesView {
            if previousWasCR {
                previousWasCR = false
                endLine()
                if byte == 0x0A { continue }
            }
            switch byte {
            case 0x0D: previousWasCR = true
            case 0x0A: endLine()
            default:
                if bytes.count - lineStart == Self.maximumLineLength {
                    // Inside the header section a continuation must start with white space.
                    let inHeader = headerLength == nil
                    bytes += [0x0D, 0x0A]
                    lineStart = bytes.count
                    if inHeader { bytes.append(0x20) }
                }
                bytes.append(byte)
            }
        }
        if previousWasCR || bytes.count > lineStart { endLine() }
        self.bytes = bytes
        self.headerLength = headerLength ?? bytes.count
        self.headerSectionIsComplete = headerLength != nil
    }

    /// The header section, each line ending in CRLF.
    var headerSection: ArraySlice<UInt8> { bytes[0..<headerLength] }

    /// The unfolded values of every header field called `name` (case-insensitive).
    func fieldValues(named name: String) -> [String] {
        let wanted = name.lowercased()
        return fields().filter { $0.name.lowercased() == wanted }.map(\.value)
    }

    /// The header fields in order, unfolded (RFC 5322 §2.2.3), values trimmed.
    func fields() -> [(name: String, value: String)] {
        var result: [(name: String, value: String)] = []
        var current: [UInt8] = []

        func flush() {
            defer { current.removeAll(keepingCapacity: true) }
            guard let colon = current.firstIndex(of: UInt8(ascii: ":")) else { return }
            let name = String(decoding: current[..<colon], as: UTF8.self).trimmingASCIIWhitespace()
            let value = String(decoding: current[(colon + 1)...], as: UTF8.self).trimmingASCIIWhitespace()
            result.append((name, value))
        }

        for line in headerSection.split(separator: 0x0A, omittingEmptySubsequences: true) {
            let content = line.last == 0x0D ? line.dropLast() : line
            if let first = content.first, first == 0x20 || first == 0x09 {
                current += content
            } else {
                flush()
                current += content
            }
        }
        flush()
        return result
    }

    /// The header section cut to at most `limit` octets at a line end.
    func headerSection(limit: Int) -> (bytes: ArraySlice<UInt8>, wasCut: Bool) {
        guard headerLength > limit else { return (headerSection, false) }
        let end = bytes[0..<limit].lastIndex(of: 0x0A).map { $0 + 1 } ?? 0
        return (bytes[0..<end], true)
    }
}

extension String {
    /// The string without leading and trailing spaces and tabs.
    func trimmingASCIIWhitespace() -> String {
        var scalars = Substring(self)
        while let first = scalars.first, first == " " || first == "\t" { scalars.removeFirst() }
        while let last = scalars.last, last == " " || last == "\t" { scalars.removeLast() }
        return String(scalars)
    }
}
