import Foundation

/// Reads the times operators type for `filterctl quarantine list --since`.
public enum QuarantineTime {
    /// A time given as a relative age (`90s`, `30m`, `24h`, `7d`, `2w`: that long before `now`),
    /// an ISO 8601 date and time with a zone (`2026-11-25T08:00:00Z`,
    /// `2026-11-25T09:00:00+01:00`) or an ISO 8601 date (`2026-11-25`, midnight UTC).
    /// - Returns: The time, or `nil` when the text is none of these.
    public static func parse(_ text: String, now: Date) -> Date? {
        let text = text.trimmingCharacters(in: .whitespaces)
        if let unit = text.last, let amount = Int(text.dropLast()), amount >= 0 {
            let seconds: Double? =
                switch unit {
                case "s": 1
                case "m": 60
                case "h": 3600
                case "d": 86400
                case "w": 7 * 86400
                default: nil
                }
            if let seconds { return now.addingTimeInterval(-Double(amount) * seconds) }
        }
        let withTime = ISO8601DateFormatter()
        withTime.formatOptions = [.withInternetDateTime]
        if let date = withTime.date(from: text) { return date }
        withTime.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        if let date = withTime.date(from: text) { return date }
        let dateOnly = ISO8601DateFormatter()
        dateOnly.formatOptions = [.withFullDate]
        return dateOnly.date(from: text)
    }
}
