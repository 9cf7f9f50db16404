import Foundation

/// Writes compact JSON byte for byte as `JSONEncoder` does with `.sortedKeys` and
/// `.withoutEscapingSlashes` and dates as RFC 3339 in UTC with milliseconds, for the
/// documents written once per message on the hot path: the spool's envelope file, a request's
/// metadata and an outcome event. Codable's encoder was about 6 % of the server's CPU per
/// message.
///
/// The caller writes an object's keys in sorted order; the tests compare the output with
/// `JSONEncoder`'s for the same values, so the Codable conformances stay the reference.
struct CompactJSONWriter {
    /// The document so far.
    private(set) var bytes: [UInt8] = []
    private var needsComma = false

    init(capacity: Int = 512) {
        bytes.reserveCapacity(capacity)
    }

    /// Writes an object whose fields `body` writes.
    mutating func object<Failure: Error>(_ body: (inout CompactJSONWriter) throws(Failure) -> Void) throws(Failure) {
        separate()
        bytes.append(UInt8(ascii: "{"))
        needsComma = false
        try body(&self)
        bytes.append(UInt8(ascii: "}"))
        needsComma = true
    }

    /// Writes an array with one element per item, each written by `element`.
    mutating func array<Item, Failure: Error>(
        _ items: [Item], _ element: (inout CompactJSONWriter, Item) throws(Failure) -> Void
    ) throws(Failure) {
        separate()
        bytes.append(UInt8(ascii: "["))
        needsComma = false
        for item in items {
            try element(&self, item)
        }
        bytes.append(UInt8(ascii: "]"))
        needsComma = true
    }

    /// Starts a field; its value follows.
    mutating func key(_ name: StaticString) {
        separate()
        bytes.append(UInt8(ascii: "\""))
        name.withUTF8Buffer { bytes.append(contentsOf: $0) }
        bytes.append(contentsOf: [UInt8(ascii: "\""), UInt8(ascii: ":")])
        needsComma = false
    }

    /// A string field, left out when `value` is `nil` (as `encodeIfPresent` does).
    mutating func field(_ name: StaticString, _ value: String?) {
        guard let value else { return }
        key(name)
        string(value)
    }

    /// An integer field, left out when `value` is `nil`.
    mutating func field(_ name: StaticString, _ value: Int?) {
        guard let value else { return }
        key(name)
        literal(String(value))
    }

    /// A Boolean field.
    mutating func field(_ name: StaticString, _ value: Bool) {
        key(name)
        literal(value ? "true" : "false")
    }

    /// A date field, left out when `value` is `nil`.
    mutating func field(_ name: StaticString, _ value: Date?) {
        guard let value else { return }
        key(name)
        string(WireJSON.formatDate(value))
    }

    /// An object field, left out when `value` is `nil`.
    mutating func field<Value, Failure: Error>(
        _ name: StaticString, _ value: Value?, _ body: (inout CompactJSONWriter, Value) throws(Failure) -> Void
    ) throws(Failure) {
        guard let value else { return }
        key(name)
        try object { (writer: inout CompactJSONWriter) throws(Failure) in try body(&writer, value) }
    }

    /// A value that is already JSON, such as a nested document from another encoder.
    mutating func json(_ document: [UInt8]) {
        separate()
        bytes.append(contentsOf: document)
        needsComma = true
    }

    /// A string value, escaped as `JSONEncoder` escapes it: `"`, `\` and the control
    /// characters below U+0020; everything else, slashes and non-ASCII included, as is.
    mutating func string(_ value: String) {
        separate()
        bytes.append(UInt8(ascii: "\""))
        var value = value
        value.withUTF8 { utf8 in
            var runStart = 0
            for (index, byte) in utf8.enumerated() where byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") {
                bytes.append(contentsOf: utf8[runStart..<index])
                appendEscaped(byte)
                runStart = index + 1
            }
            bytes.append(contentsOf: utf8[runStart...])
        }
        bytes.append(UInt8(ascii: "\""))
    }

    private mutating func appendEscaped(_ byte: UInt8) {
        let backslash = UInt8(ascii: "\\")
        switch byte {
        case UInt8(ascii: "\""), backslash: bytes.append(contentsOf: [backslash, byte])
        case 0x08: bytes.append(contentsOf: [backslash, UInt8(ascii: "b")])
        case 0x0C: bytes.append(contentsOf: [backslash, UInt8(ascii: "f")])
        case UInt8(ascii: "\n"): bytes.append(contentsOf: [backslash, UInt8(ascii: "n")])
        case UInt8(ascii: "\r"): bytes.append(contentsOf: [backslash, UInt8(ascii: "r")])
        case UInt8(ascii: "\t"): bytes.append(contentsOf: [backslash, UInt8(ascii: "t")])
        default:
            bytes.append(contentsOf: Array("\\u00".utf8))
            bytes.append(contentsOf: [Self.hexDigits[Int(byte >> 4)], Self.hexDigits[Int(byte & 0x0F)]])
        }
    }

    private static let hexDigits = Array("0123456789abcdef".utf8)

    private mutating func literal(_ text: String) {
        separate()
        bytes.append(contentsOf: text.utf8)
        needsComma = true
    }

    private mutating func separate() {
        if needsComma { bytes.append(UInt8(ascii: ",")) }
        needsComma = true
    }
}
