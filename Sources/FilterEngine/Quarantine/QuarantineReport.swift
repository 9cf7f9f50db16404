import FilterCore
import FilterQuarantine
import Foundation

/// How `filterctl quarantine` shows entries.
public enum QuarantineReport {
    /// One line for `filterctl quarantine list`: id, quarantine time (ISO 8601, UTC), action,
    /// sender, recipient, size in octets, reason.
    public static func summaryLine(_ entry: QuarantineEntry) -> String {
        "\(entry.id) \(iso8601(entry.quarantinedAt)) \(entry.action) <\(entry.sender.singleLine)> "
            + "<\(entry.recipient.singleLine)> \(entry.size) \(entry.reason.singleLine)"
    }

    /// A readable description of one entry followed by its message's header section.
    public static func details(_ entry: QuarantineEntry, headers: String) -> String {
        let client = entry.envelope.client
        return [
            "id: \(entry.id)",
            "queue id: \(entry.queueID)",
            "action: \(entry.action)",
            "reason: \(entry.reason.singleLine)",
            "verdict: \(entry.verdict.map(\.summary) ?? "not recorded")",
            "sender: <\(entry.sender)>",
            "recipient: <\(entry.recipient)>",
            "owner: \(entry.owner)",
            "received: \(RFC5322Date.format(entry.receivedAt))",
            "quarantined: \(RFC5322Date.format(entry.quarantinedAt))",
            "expires: \(RFC5322Date.format(entry.expiresAt))",
            "size: \(entry.size) octets",
            "client: \(client.name ?? "unknown")[\(client.address ?? "unknown")]",
            "",
            headers,
        ].joined(separator: "\n")
    }

    /// `2026-11-26T03:00:00Z`.
    static func iso8601(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        return formatter.string(from: date)
    }
}
