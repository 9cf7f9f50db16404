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
    /// The `Subject` field, unfolded and RFC 2047-decoded.
    var subject: String?
    /// The `From` field, unfolded and RFC 2047-decoded.
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
        let headers = request.message.headers
        id = metadata.id
        queueId = metadata.queueId
        received = metadata.received
        envelope = metadata.envelope
        client = metadata.client
        size = metadata.size
        truncated = metadata.truncated
        subject = headers["Subject"]
        from = headers["From"]
        self.verdict = VerdictSummary(score: verdict.score, tags: verdict.tags, addHeaders: verdict.addHeaders, subjectTag: verdict.subjectTag)
    }

    /// The summary as wire JSON.
    /// - Throws: ``WireProtocolError`` when the score is not a finite number.
    func json() throws(WireProtocolError) -> [UInt8] {
        try WireJSON.encode(self)
    }
}
