import FilterCore
import Foundation

/// Writes each message into a directory, as `.eml` and/or `.json` (metadata and verdict so far),
/// or delivers it into a Maildir; then lets the pipeline go on.
///
/// Files are named by the request id, so a redelivered request writes nothing new: each file is
/// written under a temporary name, flushed, and linked to its final name only if that name is
/// free (see ``OutputFiles``).
///
/// Maildir delivery follows the Maildir specification: the message (LF line ends, with
/// `Return-Path` and `Delivered-To` on top, as Postfix's `local` and `virtual` write) goes into
/// `tmp/` and is then linked into `new/` under the name `<received>.R<request id>.<host>`, which
/// is unique because the request id is, and the same on redelivery. A redelivered request finds
/// its message in `new/`, or in `cur/` under any flags (`<name>:2,FLAGS`) once a mail reader has
/// seen it, and writes nothing.
public struct MessageOutput: ConfigurableProcessor {
    public static let type = "output"
    public static let optionKeys: Set<String> = ["directory", "formats"]

    /// The options of an `output` entry.
    public struct Options: Decodable, Sendable {
        /// Where to write; created (mode 0700) when missing.
        public var directory: String
        /// `eml`, `json` (either or both), or `maildir` alone; default `[eml]`.
        public var formats: [String]?

        /// Creates options.
        public init(directory: String, formats: [String]? = nil) {
            self.directory = directory
            self.formats = formats
        }
    }

    /// What is written.
    enum Format: String, CaseIterable {
        case eml, json, maildir
    }

    public let name: String
    private let directory: String
    private let formats: Set<Format>
    private let hostName: String

    public init(name: String = type, options: Options) throws(ProcessorConfigurationError) {
        guard options.directory.hasPrefix("/") else {
            throw ProcessorConfigurationError("\(name).directory: give an absolute path, not \"\(options.directory)\"")
        }
        var formats: Set<Format> = []
        for text in options.formats ?? ["eml"] {
            guard let format = Format(rawValue: text.lowercased()) else {
                throw ProcessorConfigurationError("\(name).formats: \"\(text)\" is not one of eml, json, maildir")
            }
            formats.insert(format)
        }
        guard !formats.isEmpty else { throw ProcessorConfigurationError("\(name).formats: give eml, json or maildir") }
        guard !formats.contains(.maildir) || formats.count == 1 else {
            throw ProcessorConfigurationError("\(name).formats: maildir cannot be combined with eml or json in one directory")
        }
        self.name = name
        directory = options.directory
        self.formats = formats
        hostName = Self.maildirHostName(Self.localHostName())
    }

    public func process(_ request: ProcessorRequest, verdict: Verdict) async throws -> ProcessorOutcome {
        let base = OutputFiles.name(for: request.id)
        if formats.contains(.maildir) {
            try deliverToMaildir(request, base: base)
            return .continue(verdict)
        }
        try OutputFiles.makeDirectory(directory)
        if formats.contains(.eml) {
            try writeOnce(request.rawMessage, named: base + ".eml")
        }
        if formats.contains(.json) {
            try writeOnce(try MessageSummary(request, verdict: verdict).json(), named: base + ".json")
        }
        return .continue(verdict)
    }

    private func writeOnce(_ contents: [UInt8], named name: String) throws(OutputError) {
        try OutputFiles.createOnce(directory + "/" + name, contents: contents, temporary: directory + "/." + name + ".tmp-" + UUID().uuidString)
    }

    private func deliverToMaildir(_ request: ProcessorRequest, base: String) throws(OutputError) {
        guard !request.metadata.truncated else {
            throw OutputError(.truncatedMessage, "\(name): the message was cut at the server's maxRequestBytes; not delivering part of it into \(directory)")
        }
        for subdirectory in ["tmp", "new", "cur"] {
            try OutputFiles.makeDirectory(directory + "/" + subdirectory)
        }
        let unique = "\(Int(request.metadata.received.timeIntervalSince1970)).R\(base).\(hostName)"
        let delivered = directory + "/new/" + unique
        guard !OutputFiles.exists(directory + "/new/" + unique), !OutputFiles.directory(directory + "/cur", hasEntryStartingWith: unique + ":")
        else { return }
        try OutputFiles.createOnce(delivered, contents: Self.maildirMessage(request), temporary: directory + "/tmp/" + unique)
    }

    /// The message as a Maildir file: `Return-Path` and `Delivered-To` on top, LF line ends.
    static func maildirMessage(_ request: ProcessorRequest) -> [UInt8] {
        var contents = Array("Return-Path: <\(request.envelope.mailFrom)>\nDelivered-To: \(request.recipient.address)\n".utf8)
        contents.reserveCapacity(contents.count + request.rawMessage.count)
        let raw = request.rawMessage
        for index in raw.indices where !(raw[index] == UInt8(ascii: "\r") && index + 1 < raw.endIndex && raw[index + 1] == UInt8(ascii: "\n")) {
            contents.append(raw[index])
        }
        return contents
    }

    /// This machine's name from `gethostname(2)`: no resolver is asked, so loading never waits
    /// on DNS.
    static func localHostName() -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count - 1) == 0 else { return "localhost" }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// The host part of a Maildir name: `/` and `:` written as `\057` and `\072`, as the
    /// specification asks.
    static func maildirHostName(_ host: String) -> String {
        host.replacingOccurrences(of: "/", with: "\\057").replacingOccurrences(of: ":", with: "\\072")
    }
}
