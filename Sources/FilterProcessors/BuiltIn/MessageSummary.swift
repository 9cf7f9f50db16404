import FilterCore
import Foundation

/// What `webhook` posts with `body: summary` and what `output` writes as `.json`: the request's
/// metadata, the subject and From of the message, and the verdict so far. Written as wire JSON
/// (keys sorted, dates RFC 3339 in UTC with milliseconds).
struct MessageSummary: Encodable {
    /// The request id.
    var id: String
    /// The server's queue id of the message.
    var queueId: String
    /// When the server accepted the message.
    var received: Date
    /// Sender, recipient, owner, ESMTP parameters.
    var envelope: FilterRequestMetadata.Envelope
    /// The original SMTP client.
    var client: FilterRequestMetadata.Client
    /// The size of the whole message in octets.
    var size: Int
    /// Whether the message the client received was cut.
    var truncated: Bool
    /// The raw `Subject` field, unfolded, not RFC 2047-decoded.
    var subject: String?
    /// The raw `From` field, unfolded, not RFC 2047-decoded.
    var from: String?
    /// The verdict of the processors before.
    var verdict: VerdictSummary

    /// The verdict as JSON.
    struct VerdictSummary: Encodable {
        var score: Double?
        var tags: [String]
        var addHeaders: [FilterReply.HeaderField]
        var subjectTag: String?
    }

    init(_ request: ProcessorRequest, verdict: Verdict) {
        let metadata = request.metadata
        let header = TopHeader(request.rawMessage)
        id = metadata.id
        queueId = metadata.queueId
        received = metadata.received
        envelope = metadata.envelope
        client = metadata.client
        size = metadata.size
        truncated = metadata.truncated
        subject = header.first("Subject")
        from = header.first("From")
        self.verdict = VerdictSummary(score: verdict.score, tags: verdict.tags, addHeaders: verdict.addHeaders, subjectTag: verdict.subjectTag)
    }

    /// The summary as wire JSON.
    /// - Throws: ``WireProtocolError`` when the score is not a finite number.
    func json() throws(WireProtocolError) -> [UInt8] {
        try WireJSON.encode(self)
    }
}

/// The top header block of a raw message, read minimally: fields unfolded, values as UTF-8
/// (invalid bytes replaced), no RFC 2047 decoding. Enough for a subject line in a summary or a
/// chat message until processors get the MIME view.
struct TopHeader {
    /// `(name, value)` in order.
    private(set) var fields: [(name: String, value: String)] = []

    /// At most this many octets of a message are read for its header (256 KiB).
    static let maximumOctets = 256 * 1024

    /// Reads the header of `raw`, up to the first empty line.
    init(_ raw: [UInt8]) {
        let end = min(raw.count, Self.maximumOctets)
        var lines: [ArraySlice<UInt8>] = []
        var start = 0
        var index = 0
        while index < end {
            if raw[index] == UInt8(ascii: "\n") {
                var line = raw[start..<index]
                if line.last == UInt8(ascii: "\r") { line = line.dropLast() }
                if line.isEmpty { break }
                lines.append(line)
                start = index + 1
            }
            index += 1
        }
        for line in lines {
            if let first = line.first, first == UInt8(ascii: " ") || first == UInt8(ascii: "\t") {
                guard !fields.isEmpty else { continue }
                fields[fields.count - 1].value += String(decoding: line, as: UTF8.self)
            } else if let colon = line.firstIndex(of: UInt8(ascii: ":")) {
                let name = String(decoding: line[..<colon], as: UTF8.self).trimmingCharacters(in: .whitespaces)
                fields.append((name, String(decoding: line[(colon + 1)...], as: UTF8.self)))
            }
        }
    }

    /// The value of the first field called `name` (ignoring case), trimmed; `nil` when absent.
    func first(_ name: String) -> String? {
        fields.first { $0.name.caseInsensitiveCompare(name) == .orderedSame }?.value.trimmingCharacters(in: .whitespaces)
    }
}
