import Foundation

/// What rspamd's `/checkv2` is told about the message besides its bytes: the SMTP envelope and
/// the client, as HTTP headers.
public struct RspamdEnvelope: Sendable, Hashable {
    /// The envelope sender (`From`); empty for the null sender.
    public var from: String
    /// The envelope recipients (one `Rcpt` each).
    public var recipients: [String]
    /// The SMTP client's address (`IP`).
    public var ip: String?
    /// The SMTP client's HELO name (`Helo`).
    public var helo: String?
    /// The SMTP client's verified hostname (`Hostname`).
    public var hostname: String?
    /// The MTA's queue id (`Queue-Id`), for rspamd's log.
    public var queueID: String?
    /// The authenticated SMTP user (`User`); rspamd then treats the mail as outbound.
    public var user: String?

    /// Creates an envelope.
    public init(
        from: String, recipients: [String], ip: String? = nil, helo: String? = nil, hostname: String? = nil,
        queueID: String? = nil, user: String? = nil
    ) {
        self.from = from
        self.recipients = recipients
        self.ip = ip
        self.helo = helo
        self.hostname = hostname
        self.queueID = queueID
        self.user = user
    }
}

/// An rspamd action; an open set, because rspamd's configuration can add actions.
public struct RspamdAction: Sendable, Hashable, CustomStringConvertible {
    /// The action as rspamd spells it.
    public let rawValue: String

    /// Creates an action from rspamd's spelling.
    public init(rawValue: String) { self.rawValue = rawValue }

    /// `reject`.
    public static let reject = RspamdAction(rawValue: "reject")
    /// `soft reject` (a temporary failure).
    public static let softReject = RspamdAction(rawValue: "soft reject")
    /// `rewrite subject`.
    public static let rewriteSubject = RspamdAction(rawValue: "rewrite subject")
    /// `add header`.
    public static let addHeader = RspamdAction(rawValue: "add header")
    /// `greylist`.
    public static let greylist = RspamdAction(rawValue: "greylist")
    /// `no action`.
    public static let noAction = RspamdAction(rawValue: "no action")

    public var description: String { rawValue }
}

/// What rspamd said about a message.
public struct RspamdResult: Sendable, Hashable {
    /// The action rspamd recommends.
    public var action: RspamdAction
    /// The score.
    public var score: Double
    /// The score of the `reject` action.
    public var requiredScore: Double
    /// The symbols that hit, sorted.
    public var symbols: [String]
    /// The message rspamd suggests for an SMTP reply (`messages.smtp_message`), if any.
    public var smtpMessage: String?

    /// Creates a result.
    public init(action: RspamdAction, score: Double, requiredScore: Double, symbols: [String] = [], smtpMessage: String? = nil) {
        self.action = action
        self.score = score
        self.requiredScore = requiredScore
        self.symbols = symbols
        self.smtpMessage = smtpMessage
    }
}

/// rspamd's HTTP protocol (`POST /checkv2`) as pure functions.
///
/// - SeeAlso: rspamd's "Protocol" documentation (`https://rspamd.com/doc/developers/protocol.html`).
enum RspamdProtocol {
    /// The request headers for `envelope`, with `Password` when rspamd's worker wants one.
    static func headers(_ envelope: RspamdEnvelope, password: String?) -> [(name: String, value: String)] {
        var headers: [(name: String, value: String)] = [("From", envelope.from)]
        headers += envelope.recipients.map { ("Rcpt", $0) }
        let optional: [(String, String?)] = [
            ("IP", envelope.ip), ("Helo", envelope.helo), ("Hostname", envelope.hostname),
            ("Queue-Id", envelope.queueID), ("User", envelope.user), ("Password", password),
        ]
        for case let (name, value?) in optional where !value.isEmpty {
            headers.append((name, value))
        }
        return headers
    }

    private struct Body: Decodable {
        var action: String
        var score: Double
        var requiredScore: Double
        var symbols: [String: Symbol]?
        var messages: [String: String]?

        struct Symbol: Decodable {}

        enum CodingKeys: String, CodingKey {
            case action, score, symbols, messages
            case requiredScore = "required_score"
        }

        init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            action = try container.decode(String.self, forKey: .action)
            score = try container.decode(Double.self, forKey: .score)
            requiredScore = try container.decode(Double.self, forKey: .requiredScore)
            symbols = try container.decodeIfPresent([String: Symbol].self, forKey: .symbols)
            // Only the suggested SMTP message is read; other entries may be objects.
            messages = try? container.decodeIfPresent([String: String].self, forKey: .messages)
        }
    }

    /// Reads the JSON answer of `/checkv2`.
    /// - Throws: ``DaemonError`` with `daemonFailed` when rspamd answered `{"error": ...}`, or
    ///   `invalidResponse` when the answer is not the protocol.
    static func parseResult(_ data: Data) throws(DaemonError) -> RspamdResult {
        if let failure = try? JSONDecoder().decode([String: String].self, from: data), let error = failure["error"] {
            throw DaemonError(.daemonFailed, "rspamd could not check the message: \(error)")
        }
        let body: Body
        do {
            body = try JSONDecoder().decode(Body.self, from: data)
        } catch {
            let start = String(decoding: data.prefix(200), as: UTF8.self)
            throw DaemonError(.invalidResponse, "rspamd: unexpected answer (\(error)): \"\(start)\"")
        }
        return RspamdResult(
            action: RspamdAction(rawValue: body.action), score: body.score, requiredScore: body.requiredScore,
            symbols: (body.symbols ?? [:]).keys.sorted(), smtpMessage: body.messages?["smtp_message"])
    }
}
