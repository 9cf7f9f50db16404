import FilterCore
import Foundation

/// Reads and, when no server is running, changes a spool directly: what `filterctl spool` uses.
public struct SpoolInspector: Sendable {
    private let spool: Spool

    /// Opens the spool in `directory`.
    /// - Throws: ``SpoolError`` when the directory cannot be used.
    public init(directory: String) throws {
        spool = try Spool(configuration: SpoolConfiguration(directory: directory))
    }

    /// Every entry, oldest first.
    public func entries() throws -> [SpoolEntry] {
        try spool.entries()
    }

    /// One line for `filterctl spool list`: queue id, age, sender, then each recipient and state.
    public static func summaryLine(_ entry: SpoolEntry, now: Date) -> String {
        let recipients = zip(entry.envelope.recipients, entry.recipients)
            .map { "<\($0.address)>:\($1.state)" }
            .joined(separator: " ")
        return "\(entry.queueID) \(age(now.timeIntervalSince(entry.receivedAt))) <\(entry.envelope.mailFrom)> \(recipients)"
    }

    /// A readable description of one entry, with the message's header section.
    /// - Throws: ``SpoolError`` with code `notFound` for an unknown id.
    public func details(of id: QueueID) throws -> String {
        guard let entry = try spool.entry(id) else {
            throw SpoolError(code: .notFound, message: "\(id): no such message in the spool", path: spool.messagePath(for: id))
        }
        let envelope = entry.envelope
        var lines = [
            "queue id: \(entry.queueID)",
            "received: \(RFC5322Date.format(entry.receivedAt))",
            "size: \(entry.messageSize) octets",
            "attempts: \(entry.attempts)",
            "next attempt: \(entry.nextAttemptAt.map(RFC5322Date.format) ?? "now")",
            "sender: <\(envelope.mailFrom)>",
            "client: \(envelope.client.name ?? "unknown")[\(envelope.client.address ?? "unknown")]",
        ]
        for (recipient, delivery) in zip(envelope.recipients, entry.recipients) {
            lines.append("recipient: <\(recipient.address)> \(delivery.state)" + (delivery.detail.map { " (\($0))" } ?? ""))
        }
        lines.append("")
        lines.append(headerSection(of: id))
        return lines.joined(separator: "\n")
    }

    /// Makes one message (or every one) due now; returns how many changed.
    public func markDue(_ id: QueueID?) async throws -> Int {
        var count = 0
        for var entry in try spool.entries() where id == nil || entry.queueID == id {
            entry.nextAttemptAt = nil
            try await spool.update(entry)
            count += 1
        }
        return count
    }

    /// Removes a message without delivering it.
    public func delete(_ id: QueueID) async throws {
        guard try spool.entry(id) != nil else {
            throw SpoolError(code: .notFound, message: "\(id): no such message in the spool", path: spool.messagePath(for: id))
        }
        try await spool.remove(id)
    }

    private func headerSection(of id: QueueID) -> String {
        guard let handle = FileHandle(forReadingAtPath: spool.messagePath(for: id)),
            let data = try? handle.read(upToCount: 64 * 1024)
        else { return "(message file unreadable)" }
        try? handle.close()
        let text = String(decoding: data, as: UTF8.self)
        let end = text.range(of: "\r\n\r\n") ?? text.range(of: "\n\n")
        return String(end.map { text[..<$0.lowerBound] } ?? Substring(text))
    }

    private static func age(_ seconds: TimeInterval) -> String {
        let seconds = Int(max(0, seconds))
        if seconds < 120 { return "\(seconds)s" }
        if seconds < 7200 { return "\(seconds / 60)m" }
        if seconds < 172_800 { return "\(seconds / 3600)h" }
        return "\(seconds / 86400)d"
    }
}
