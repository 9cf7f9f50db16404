import Foundation
import NIOCore

/// A spamd command (protocol SPAMC/1.5); an open set.
public struct SpamdCommand: Sendable, Hashable, CustomStringConvertible {
    /// The command word.
    public let rawValue: String

    /// Creates a command from its word.
    public init(rawValue: String) { self.rawValue = rawValue }

    /// Score only: the `Spam:` header, no body.
    public static let check = SpamdCommand(rawValue: "CHECK")
    /// Score and the names of the rules that hit, comma-separated in the body.
    public static let symbols = SpamdCommand(rawValue: "SYMBOLS")
    /// Score and the report table (points, rule, description) in the body.
    public static let report = SpamdCommand(rawValue: "REPORT")
    /// Is the daemon there (`SPAMD/1.5 0 PONG`).
    public static let ping = SpamdCommand(rawValue: "PING")

    public var description: String { rawValue }
}

/// What spamd said about a message.
public struct SpamdResult: Sendable, Hashable {
    /// Whether spamd judged it spam (its own threshold).
    public var isSpam: Bool
    /// The score.
    public var score: Double
    /// The score at which spamd calls mail spam (`required_score`).
    public var threshold: Double
    /// The rules that hit (`SYMBOLS`, or read from the `REPORT` table).
    public var symbols: [String]
    /// The report table, one line per rule (`REPORT` only).
    public var reportLines: [String]

    /// Creates a result.
    public init(isSpam: Bool, score: Double, threshold: Double, symbols: [String] = [], reportLines: [String] = []) {
        self.isSpam = isSpam
        self.score = score
        self.threshold = threshold
        self.symbols = symbols
        self.reportLines = reportLines
    }
}

/// The spamd protocol (SPAMC/1.5) as pure functions: a request is a command line, headers
/// (`Content-length`, optionally `User`), an empty line and the message; the answer is a status
/// line `SPAMD/1.1 0 EX_OK`, headers (`Spam: True ; 15.3 / 5.0`, `Content-length`), an empty line
/// and a body whose meaning depends on the command.
///
/// - SeeAlso: SpamAssassin's `spamd/PROTOCOL`.
enum SpamdProtocol {
    /// The request for `command` on `message`, as `user` when given.
    static func encodeRequest(_ command: SpamdCommand, message: [UInt8], user: String?) -> ByteBuffer {
        var head = "\(command.rawValue) SPAMC/1.5\r\n"
        if command != .ping {
            head += "Content-length: \(message.count)\r\n"
        }
        if let user {
            head += "User: \(user)\r\n"
        }
        head += "\r\n"
        var buffer = ByteBuffer()
        buffer.reserveCapacity(head.utf8.count + message.count)
        buffer.writeString(head)
        if command != .ping {
            buffer.writeBytes(message)
        }
        return buffer
    }

    /// Reads the answer to a `PING`.
    /// - Throws: ``DaemonError`` with `invalidResponse` unless it is `SPAMD/x.y 0 PONG`.
    static func parsePong(_ bytes: ByteBuffer) throws(DaemonError) {
        let line = String(buffer: bytes).prefix { !$0.isNewline }
        let words = line.split(separator: " ")
        guard words.count == 3, words[0].hasPrefix("SPAMD/"), words[1] == "0", words[2] == "PONG" else {
            throw DaemonError(.invalidResponse, "spamd: unexpected answer to PING: \"\(line.prefix(200))\"")
        }
    }

    /// Reads the answer to `CHECK`, `SYMBOLS` or `REPORT`.
    /// - Throws: ``DaemonError``: `daemonFailed` for a non-zero status (spamd's `EX_*` codes),
    ///   `invalidResponse` for anything that is not the protocol.
    static func parseResponse(_ bytes: ByteBuffer, command: SpamdCommand) throws(DaemonError) -> SpamdResult {
        let raw = Array(bytes.readableBytesView)
        guard let headEnd = raw.firstRange(of: [13, 10, 13, 10]) else {
            throw invalid("no end of headers", raw)
        }
        let lines = String(decoding: raw[..<headEnd.lowerBound], as: UTF8.self).components(separatedBy: "\r\n")
        let status = lines[0].split(separator: " ", maxSplits: 2)
        guard status.count >= 2, status[0].hasPrefix("SPAMD/"), let code = Int(status[1]) else {
            throw invalid("bad status line", raw)
        }
        guard code == 0 else {
            let text = status.count > 2 ? String(status[2]) : ""
            throw DaemonError(.daemonFailed, "spamd refused the message: status \(code) \(text)")
        }
        var spam: (isSpam: Bool, score: Double, threshold: Double)?
        var contentLength: Int?
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { throw invalid("bad header line", raw) }
            let value = line[line.index(after: colon)...].trimmingSpaces()
            switch line[..<colon].lowercased() {
            case "spam": spam = try parseSpamHeader(value, raw)
            case "content-length":
                guard let length = Int(value), length >= 0 else { throw invalid("bad Content-length", raw) }
                contentLength = length
            default: continue
            }
        }
        guard let spam else { throw invalid("no Spam header", raw) }
        var body = raw[headEnd.upperBound...]
        if let contentLength {
            guard body.count >= contentLength else {
                throw invalid("body shorter than its Content-length \(contentLength)", raw)
            }
            body = body.prefix(contentLength)
        }
        let text = String(decoding: body, as: UTF8.self)
        var result = SpamdResult(isSpam: spam.isSpam, score: spam.score, threshold: spam.threshold)
        if command == .symbols {
            result.symbols = text.split(separator: ",").map { $0.trimmingSpaces() }.filter { !$0.isEmpty }
        } else if command == .report {
            result.reportLines = reportRows(text)
            result.symbols = result.reportLines.compactMap { $0.split(separator: " ").dropFirst().first.map(String.init) }
        }
        return result
    }

    /// `True ; 15.3 / 5.0` (spamd also says `Yes`/`No` in older versions).
    private static func parseSpamHeader(_ value: String, _ raw: [UInt8]) throws(DaemonError) -> (Bool, Double, Double) {
        let halves = value.split(separator: ";", maxSplits: 1)
        let numbers = halves.count == 2 ? halves[1].split(separator: "/") : []
        guard numbers.count == 2, let score = Double(numbers[0].trimmingSpaces()), let threshold = Double(numbers[1].trimmingSpaces()) else {
            throw invalid("bad Spam header \"\(value)\"", raw)
        }
        switch halves[0].trimmingSpaces().lowercased() {
        case "true", "yes": return (true, score, threshold)
        case "false", "no": return (false, score, threshold)
        default: throw invalid("bad Spam header \"\(value)\"", raw)
        }
    }

    /// The rows of the report's table (`pts rule description`), a row's wrapped description
    /// joined to it, spaces collapsed: `1000 GTUBE BODY: Generic Test for Unsolicited Bulk Email`.
    private static func reportRows(_ report: String) -> [String] {
        var rows: [String] = []
        var inTable = false
        for line in report.split(separator: "\n", omittingEmptySubsequences: false) {
            let words = line.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\r" })
            if !inTable {
                inTable = line.hasPrefix("----")
                continue
            }
            guard let first = words.first else { continue }
            if Double(first) != nil, words.count >= 2 {
                rows.append(words.joined(separator: " "))
            } else if !rows.isEmpty, line.first == " " || line.first == "\t" {
                rows[rows.count - 1] += " " + words.joined(separator: " ")
            }
        }
        return rows
    }

    private static func invalid(_ what: String, _ raw: [UInt8]) -> DaemonError {
        let start = String(decoding: raw.prefix(120), as: UTF8.self).replacingOccurrences(of: "\r\n", with: "\\r\\n")
        return DaemonError(.invalidResponse, "spamd: unexpected answer (\(what)): \"\(start)\"")
    }
}

extension StringProtocol {
    /// Without leading and trailing spaces and tabs.
    func trimmingSpaces() -> String {
        String(drop(while: { $0 == " " || $0 == "\t" }).reversed().drop(while: { $0 == " " || $0 == "\t" }).reversed())
    }
}
