import FilterCore
import Foundation

/// The JSON body of `POST /api/v1/messages`, as docs/openapi/send-api.yaml describes it.
/// Unknown fields are refused: a misspelt `bcc` must not silently drop recipients.
struct SendRequest: Decodable {
    /// An address: a string `local@domain`, or `{"address": ..., "name": ...}`.
    struct Address: Decodable {
        var address: String
        var name: String?

        init(from decoder: any Decoder) throws {
            if let text = try? decoder.singleValueContainer().decode(String.self) {
                address = text
                return
            }
            let container = try decoder.container(keyedBy: StrictKey.self)
            try container.refuseUnknownKeys(["address", "name"])
            address = try container.decode(String.self, forKey: StrictKey("address"))
            name = try container.decodeIfPresent(String.self, forKey: StrictKey("name"))
        }

        var mailbox: MailboxAddress { MailboxAddress(displayName: name, address: address) }
    }

    struct Attachment: Decodable {
        var filename: String?
        var contentType: String?
        var content: String

        init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: StrictKey.self)
            try container.refuseUnknownKeys(["filename", "content_type", "content"])
            filename = try container.decodeIfPresent(String.self, forKey: StrictKey("filename"))
            contentType = try container.decodeIfPresent(String.self, forKey: StrictKey("content_type"))
            content = try container.decode(String.self, forKey: StrictKey("content"))
        }
    }

    struct Header: Decodable {
        var name: String
        var value: String

        init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: StrictKey.self)
            try container.refuseUnknownKeys(["name", "value"])
            name = try container.decode(String.self, forKey: StrictKey("name"))
            value = try container.decode(String.self, forKey: StrictKey("value"))
        }
    }

    var from: Address
    var to: [Address]
    var cc: [Address]
    var bcc: [Address]
    var replyTo: [Address]
    var subject: String?
    var text: String?
    var html: String?
    var attachments: [Attachment]
    var headers: [Header]

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: StrictKey.self)
        try container.refuseUnknownKeys(["from", "to", "cc", "bcc", "reply_to", "subject", "text", "html", "attachments", "headers"])
        from = try container.decode(Address.self, forKey: StrictKey("from"))
        to = try container.decodeAddresses("to")
        cc = try container.decodeAddresses("cc")
        bcc = try container.decodeAddresses("bcc")
        replyTo = try container.decodeAddresses("reply_to")
        subject = try container.decodeIfPresent(String.self, forKey: StrictKey("subject"))
        text = try container.decodeIfPresent(String.self, forKey: StrictKey("text"))
        html = try container.decodeIfPresent(String.self, forKey: StrictKey("html"))
        attachments = try container.decodeIfPresent([Attachment].self, forKey: StrictKey("attachments")) ?? []
        headers = try container.decodeIfPresent([Header].self, forKey: StrictKey("headers")) ?? []
    }

    /// The draft, with attachments decoded from base64, and a problem for each attachment
    /// that is not base64 (left out of the draft).
    func draft() -> (MessageDraft, [MessageDraftError.Problem]) {
        var problems: [MessageDraftError.Problem] = []
        var files: [MessageDraft.Attachment] = []
        for (index, attachment) in attachments.enumerated() {
            guard attachment.content.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "+/=\r\n \t".contains($0)) }),
                let content = Data(base64Encoded: attachment.content, options: .ignoreUnknownCharacters)
            else {
                problems.append(.init(field: "attachments[\(index)].content", message: "not valid base64"))
                continue
            }
            files.append(.init(filename: attachment.filename, contentType: attachment.contentType ?? "application/octet-stream", content: Array(content)))
        }
        let draft = MessageDraft(
            from: from.mailbox, to: to.map(\.mailbox), cc: cc.map(\.mailbox), bcc: bcc.map(\.mailbox),
            replyTo: replyTo.map(\.mailbox), subject: subject, text: text, html: html, attachments: files,
            headers: headers.map { MessageDraft.HeaderField(name: $0.name, value: $0.value) })
        return (draft, problems)
    }

    /// The request in `body`.
    /// - Throws: ``Failure/malformed`` when the body is not JSON at all, ``Failure/invalid``
    ///   with the field's path when it is JSON of the wrong shape.
    static func decode(_ body: [UInt8]) throws(Failure) -> SendRequest {
        do {
            return try JSONDecoder().decode(SendRequest.self, from: Data(body))
        } catch let error as DecodingError {
            if case .dataCorrupted(let context) = error, context.codingPath.isEmpty {
                throw .malformed("the body is not valid JSON")
            }
            var path = error.codingPath
            if case .keyNotFound(let key, _) = error { path.append(key) }
            throw .invalid(field: fieldPath(path), message: message(error))
        } catch {
            throw .malformed("the body is not valid JSON")
        }
    }

    /// Why a body is not a request.
    enum Failure: Error {
        /// Not JSON.
        case malformed(String)
        /// JSON, but a field is missing, unknown or of the wrong type.
        case invalid(field: String, message: String)
    }

    /// `attachments[0].filename` for the path attachments → 0 → filename.
    static func fieldPath(_ path: [any CodingKey]) -> String {
        var text = ""
        for key in path {
            if let index = key.intValue {
                text += "[\(index)]"
            } else {
                text += (text.isEmpty ? "" : ".") + key.stringValue
            }
        }
        return text.isEmpty ? "(body)" : text
    }

    private static func message(_ error: DecodingError) -> String {
        switch error {
        case .keyNotFound(let key, _): "the field \(key.stringValue) is required"
        case .dataCorrupted(let context): context.debugDescription
        default: error.operatorDescription
        }
    }
}

/// Any JSON object key, so that unknown ones can be named.
struct StrictKey: CodingKey {
    var stringValue: String
    var intValue: Int? { nil }
    init(_ name: String) { stringValue = name }
    init?(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }
}

extension KeyedDecodingContainer where Key == StrictKey {
    /// Throws for the first key not in `known`, naming it.
    func refuseUnknownKeys(_ known: Set<String>) throws {
        if let unknown = allKeys.map(\.stringValue).sorted().first(where: { !known.contains($0) }) {
            throw DecodingError.dataCorrupted(
                .init(codingPath: codingPath + [StrictKey(unknown)], debugDescription: "unknown field; known: \(known.sorted().joined(separator: ", "))"))
        }
    }

    /// An address list: an array of addresses, or one address alone; empty when absent.
    func decodeAddresses(_ name: String) throws -> [SendRequest.Address] {
        let key = StrictKey(name)
        guard contains(key), try !decodeNil(forKey: key) else { return [] }
        if (try? nestedUnkeyedContainer(forKey: key)) != nil { return try decode([SendRequest.Address].self, forKey: key) }
        return [try decode(SendRequest.Address.self, forKey: key)]
    }
}
