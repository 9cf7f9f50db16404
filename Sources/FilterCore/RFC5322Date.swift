import Foundation

/// Formats dates as RFC 5322 §3.3 `date-time`, for example `Tue, 24 Nov 2026 19:40:51 +0000`.
public enum RFC5322Date {
    private static let days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
    private static let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    /// Formats `date` in UTC (`+0000`), independent of the process locale and time zone.
    public static func format(_ date: Date) -> String {
        let utc = UTCFields(date)
        return "\(days[utc.weekday]), \(utc.day) \(months[utc.month - 1]) \(utc.year) "
            + "\(UTCFields.padded(utc.hour, 2)):\(UTCFields.padded(utc.minute, 2)):\(UTCFields.padded(utc.second, 2)) +0000"
    }
}
