import Foundation
import FilterCore

/// The header changes of one delivered copy: computed from the decision and the policy, and
/// the same for recipients that may share a delivery.
struct HeaderEdits: Sendable, Hashable {
    /// The `X-Filter-Verdict` value: action, deciding owner or source, short reason.
    var verdict: String
    /// Fields added after the verdict, already sanitized (``HeaderFieldPolicy``).
    var addedFields: [FilterReply.HeaderField] = []
    /// For `spam`: replace every `X-Spam-*` field by the flag, the score and the status.
    var spamScore: SpamMarking?
    /// A tag put in front of the subject, already sanitized.
    var subjectTag: String?

    /// The spam marking of a copy.
    struct SpamMarking: Sendable, Hashable {
        /// The score from the reply, when it gave one.
        var score: Double?
    }
}

/// Which header fields a reply may add, and how they are cleaned (DESIGN.md: headers the server
/// owns cannot be added or forged).
public struct HeaderFieldPolicy: Sendable, Hashable {
    /// At most this many fields are added per copy; default 20.
    public var maximumFields = 20
    /// A field's name and value together are at most this many characters; default 900, under
    /// RFC 5322's 998-octet line limit with room for folding.
    public var maximumFieldLength = 900
    /// A subject tag is at most this many characters; default 64.
    public var maximumTagLength = 64
    /// At most this much of a message is read to find the end of its header section; default
    /// 1 MiB. A longer header section keeps its fields, and the edits go in front of it.
    public var maximumHeaderSectionBytes = 1024 * 1024

    /// The defaults above.
    public init() {}

    /// Fields no reply may add: trace and routing fields, the message's identity and structure,
    /// and everything the filter owns (`X-Filter-*`). For `spam` the server also writes
    /// ``spamMarkingNames`` itself.
    static let reservedNames: Set<String> = [
        "received", "return-path", "delivered-to", "from", "sender", "reply-to", "to", "cc", "bcc",
        "subject", "date", "message-id", "in-reply-to", "references", "mime-version",
        "content-type", "content-transfer-encoding", "content-disposition", "dkim-signature",
        "arc-seal", "arc-message-signature", "arc-authentication-results",
    ]

    /// The fields of the server's spam marking: on a `spam` copy, a reply's own are dropped.
    static let spamMarkingNames: Set<String> = ["x-spam-flag", "x-spam-score", "x-spam-status"]

    /// Why one field of a reply was not added.
    struct Refusal: Sendable, Hashable, CustomStringConvertible {
        /// The field name as the reply gave it (control characters escaped).
        var name: String
        /// Why.
        var reason: String
        var description: String { "\(name): \(reason)" }
    }

    /// The fields of `fields` that may be added, and why the others may not.
    func sanitize(_ fields: [FilterReply.HeaderField]) -> (accepted: [FilterReply.HeaderField], refused: [Refusal]) {
        var accepted: [FilterReply.HeaderField] = []
        var refused: [Refusal] = []
        for field in fields {
            let shownName = field.name.unicodeScalars.map { $0.isPrintableASCII ? String($0) : "\\u{\(String($0.value, radix: 16))}" }.joined()
            if let reason = refusal(of: field) {
                refused.append(Refusal(name: shownName, reason: reason))
            } else if accepted.count == maximumFields {
                refused.append(Refusal(name: shownName, reason: "more than \(maximumFields) fields"))
            } else {
                accepted.append(FilterReply.HeaderField(name: field.name, value: field.value.singleLine))
            }
        }
        return (accepted, refused)
    }

    private func refusal(of field: FilterReply.HeaderField) -> String? {
        let name = field.name
        guard MIMEHeaderField.isValidName(name) else {
            return "not a valid field name (RFC 5322 ftext)"
        }
        let lowered = name.lowercased()
        if lowered.hasPrefix("x-filter-") { return "X-Filter-* fields belong to the filter" }
        if Self.reservedNames.contains(lowered) {
            return "the filter does not let replies set \(name)"
        }
        if field.value.unicodeScalars.contains(where: { $0 == "\r" || $0 == "\n" || $0 == "\0" }) {
            return "the value contains CR, LF or NUL (header injection)"
        }
        if name.count + 2 + field.value.count > maximumFieldLength {
            return "longer than \(maximumFieldLength) characters"
        }
        return nil
    }

    /// A subject tag fit for the header, or `nil` when nothing of it is left.
    func sanitizeTag(_ tag: String?) -> String? {
        guard let tag else { return nil }
        let cleaned = tag.singleLine.trimmingCharacters(in: .whitespaces)
        guard !cleaned.isEmpty else { return nil }
        return String(cleaned.prefix(maximumTagLength))
    }
}

extension Unicode.Scalar {
    /// Printable US-ASCII, space included.
    var isPrintableASCII: Bool { (32...126).contains(value) }
}
