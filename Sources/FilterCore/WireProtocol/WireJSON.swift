import Foundation

/// The one place wire protocol v1 JSON is written and read (docs/protocol.md): keys sorted so
/// equal values give equal bytes, slashes not escaped, dates as RFC 3339 in UTC with
/// milliseconds (`2026-11-26T01:10:10.123Z`).
///
/// Reading is lenient where the protocol allows it and strict where it matters: unknown fields
/// are ignored; dates may come with or without fractional seconds and with any UTC offset; a
/// missing or wrong `version`, `id` or `action` is a typed ``WireProtocolError``.
public enum WireJSON {
    /// Writes `value` as wire JSON.
    /// - Throws: ``WireProtocolError/Code/unencodable`` for a number JSON cannot carry (NaN).
    public static func encode(_ value: some Encodable) throws(WireProtocolError) -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.singleValueContainer()
            try container.encode(formatDate(date))
        }
        do {
            return Array(try encoder.encode(value))
        } catch let error as EncodingError {
            if case .invalidValue(let value, let context) = error {
                throw WireProtocolError(
                    .unencodable, "\(path(context.codingPath)): \(value) cannot be written as JSON",
                    field: path(context.codingPath))
            }
            throw WireProtocolError(.unencodable, "\(error)")
        } catch {
            throw WireProtocolError(.unencodable, "\(error)")
        }
    }

    /// Reads a wire JSON document of protocol version 1 that must carry an `id`.
    ///
    /// Checks, in this order: the bytes are a JSON object; `version` is 1; `id` is a non-empty
    /// string; then `check` (for example the reply's `action`); then every field's type.
    ///
    /// A valid document is decoded once; the fields of ``Head`` are read on their own only
    /// when decoding the whole document fails, to name the first of these checks it fails.
    /// - Throws: ``WireProtocolError``.
    static func decode<Document: WireDocument>(
        _ type: Document.Type, from bytes: some Collection<UInt8>,
        check: (Head) throws(WireProtocolError) -> Void = { _ in }
    ) throws(WireProtocolError) -> Document {
        let data = Data(bytes)
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .custom { decoder in
            let container = try decoder.singleValueContainer()
            let text = try container.decode(String.self)
            guard let date = parseDate(text) else {
                throw DecodingError.dataCorruptedError(
                    in: container, debugDescription: "\(text) is not an RFC 3339 date-time")
            }
            return date
        }
        if let document = try? decoder.decode(Document.self, from: data) {
            try verify(document.head, check: check)
            return document
        }
        let head: Head
        do {
            head = try decoder.decode(Head.self, from: data)
        } catch {
            throw readingError(error)
        }
        try verify(head, check: check)
        do {
            return try decoder.decode(Document.self, from: data)
        } catch {
            throw readingError(error)
        }
    }

    private static func verify(_ head: Head, check: (Head) throws(WireProtocolError) -> Void) throws(WireProtocolError) {
        guard let version = head.version else {
            throw WireProtocolError(.wrongVersion, "the document has no version; expected 1", field: "version")
        }
        guard version == 1 else {
            throw WireProtocolError(.wrongVersion, "version \(version) is not supported; expected 1", field: "version")
        }
        guard let id = head.id, !id.isEmpty else {
            throw WireProtocolError(.missingID, "the document has no id", field: "id")
        }
        try check(head)
    }

    /// The fields every document is checked for first, each optional so that their absence
    /// is told apart from a wrong type.
    struct Head: Decodable {
        var version: Int?
        var id: String?
        var action: String?
    }

    /// A wire document: its ``Head`` fields, once the whole document has been decoded.
    protocol WireDocument: Decodable {
        var head: Head { get }
    }

    /// Formats a date as RFC 3339 in UTC with milliseconds, exactly as
    /// `Date.ISO8601FormatStyle(includingFractionalSeconds: true)` does (milliseconds cut,
    /// not rounded), without its cost per call.
    public static func formatDate(_ date: Date) -> String {
        let utc = UTCFields(date)
        return "\(UTCFields.padded(utc.year, 4))-\(UTCFields.padded(utc.month, 2))-\(UTCFields.padded(utc.day, 2))"
            + "T\(UTCFields.padded(utc.hour, 2)):\(UTCFields.padded(utc.minute, 2)):\(UTCFields.padded(utc.second, 2))"
            + ".\(UTCFields.padded(utc.millisecond, 3))Z"
    }

    /// Parses an RFC 3339 date-time, with or without fractional seconds, with `Z` or an offset.
    public static func parseDate(_ text: String) -> Date? {
        (try? withFraction.parse(text)) ?? (try? withoutFraction.parse(text))
    }

    private static let withFraction = Date.ISO8601FormatStyle(includingFractionalSeconds: true)
    private static let withoutFraction = Date.ISO8601FormatStyle()

    /// Translates what JSONDecoder says into an operator's error.
    private static func readingError(_ error: any Error) -> WireProtocolError {
        guard let error = error as? DecodingError else {
            return WireProtocolError(.malformedJSON, "\(error)")
        }
        switch error {
        case .dataCorrupted(let context) where context.codingPath.isEmpty:
            return WireProtocolError(.malformedJSON, "not valid JSON: \(underlying(context))")
        case .typeMismatch(_, let context) where context.codingPath.isEmpty:
            return WireProtocolError(.malformedJSON, "not a JSON object")
        case .keyNotFound(let key, let context):
            let field = path(context.codingPath + [key])
            if field == "id" { return WireProtocolError(.missingID, "the document has no id", field: field) }
            return WireProtocolError(.missingField, "\(field) is missing", field: field)
        case .valueNotFound(_, let context):
            let field = path(context.codingPath)
            return WireProtocolError(.missingField, "\(field) is null", field: field)
        case .typeMismatch(let expected, let context):
            let field = path(context.codingPath)
            return WireProtocolError(.invalidFieldType, "\(field) is not a valid \(expected)", field: field)
        case .dataCorrupted(let context):
            let field = path(context.codingPath)
            return WireProtocolError(.invalidFieldType, "\(field): \(context.debugDescription)", field: field)
        @unknown default:
            return WireProtocolError(.malformedJSON, "\(error)")
        }
    }

    private static func underlying(_ context: DecodingError.Context) -> String {
        context.underlyingError.map { "\($0)" } ?? context.debugDescription
    }

    /// `addHeaders[0].name` for a coding path.
    private static func path(_ codingPath: [any CodingKey]) -> String {
        var result = ""
        for key in codingPath {
            if let index = key.intValue {
                result += "[\(index)]"
            } else {
                result += result.isEmpty ? key.stringValue : "." + key.stringValue
            }
        }
        return result
    }
}

extension FilterReply {
    /// Reads a reply body (docs/protocol.md, "Reply"). Unknown fields are ignored.
    /// - Throws: ``WireProtocolError``: malformed JSON, wrong version, missing id, missing or
    ///   unknown action, a field of the wrong type.
    public init(wireJSON bytes: some Collection<UInt8>) throws(WireProtocolError) {
        self = try WireJSON.decode(FilterReply.self, from: bytes) { head throws(WireProtocolError) in
            guard let action = head.action else {
                throw WireProtocolError(.missingAction, "the reply has no action", field: "action")
            }
            guard FilterAction.allKnown.contains(FilterAction(rawValue: action)) else {
                throw WireProtocolError(
                    .unknownAction, "the action \(action) is not defined by wire protocol v1", field: "action")
            }
        }
    }

    /// The reply body as wire JSON.
    /// - Throws: ``WireProtocolError/Code/unencodable`` when `score` is not a finite number.
    public func wireJSON() throws(WireProtocolError) -> [UInt8] {
        try WireJSON.encode(self)
    }
}

extension FilterRequestMetadata {
    /// Reads the header `x-mailfilter-request` (docs/protocol.md, "Request"). Unknown fields
    /// are ignored.
    /// - Throws: ``WireProtocolError``.
    public init(wireJSON text: String) throws(WireProtocolError) {
        self = try WireJSON.decode(FilterRequestMetadata.self, from: Array(text.utf8))
    }

    /// The metadata as the JSON text of the header `x-mailfilter-request`.
    /// - Throws: ``WireProtocolError/Code/unencodable`` (the metadata holds no floating-point
    ///   number, so in practice it does not).
    public func wireJSON() throws(WireProtocolError) -> String {
        var writer = CompactJSONWriter()
        writer.object { writer in
            writer.field("client", client) { writer, client in
                writer.field("address", client.address)
                writer.field("helo", client.helo)
                writer.field("name", client.name)
                writer.field("protocol", client.protocol)
            }
            writer.field("deadline", deadline)
            writer.field("envelope", envelope) { writer, envelope in
                writer.field("mailFrom", envelope.mailFrom)
                writer.field("orcpt", envelope.orcpt)
                writer.field("owner", envelope.owner)
                writer.field("parameters", envelope.parameters) { writer, parameters in
                    writer.field("body", parameters.body)
                    writer.field("envid", parameters.envid)
                    if let notify = parameters.notify {
                        writer.key("notify")
                        writer.array(notify) { writer, keyword in writer.string(keyword) }
                    }
                    writer.field("ret", parameters.ret)
                    writer.field("smtputf8", parameters.smtputf8)
                }
                writer.field("recipient", envelope.recipient)
            }
            writer.field("id", id)
            writer.field("queueId", queueId)
            writer.field("received", received)
            writer.field("size", size)
            writer.field("truncated", truncated)
            writer.field("version", version)
        }
        return String(decoding: writer.bytes, as: UTF8.self)
    }
}

extension FilterReply: WireJSON.WireDocument {
    var head: WireJSON.Head { WireJSON.Head(version: version, id: id, action: action.rawValue) }
}

extension FilterRequestMetadata: WireJSON.WireDocument {
    var head: WireJSON.Head { WireJSON.Head(version: version, id: id, action: nil) }
}

extension OutcomeEvent: WireJSON.WireDocument {
    var head: WireJSON.Head { WireJSON.Head(version: version, id: id, action: action.rawValue) }
}
