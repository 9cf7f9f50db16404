import Foundation

/// The UTC calendar fields of a date, from the C library's `gmtime_r`: a fraction of what a
/// `Calendar` costs per call, for the dates written once per message.
struct UTCFields {
    var year: Int
    /// 1 to 12.
    var month: Int
    var day: Int
    var hour: Int
    var minute: Int
    var second: Int
    /// 0 to 999, cut (as Foundation's formatters cut it), not rounded.
    var millisecond: Int
    /// 0 for Sunday to 6 for Saturday.
    var weekday: Int

    init(_ date: Date) {
        let sinceReference = date.timeIntervalSinceReferenceDate
        let wholeSeconds = sinceReference.rounded(.down)
        var seconds = time_t(wholeSeconds + Date.timeIntervalBetween1970AndReferenceDate)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        year = Int(parts.tm_year) + 1900
        month = Int(parts.tm_mon) + 1
        day = Int(parts.tm_mday)
        hour = Int(parts.tm_hour)
        minute = Int(parts.tm_min)
        second = Int(parts.tm_sec)
        millisecond = Int((sinceReference - wholeSeconds) * 1000)
        weekday = Int(parts.tm_wday)
    }

    /// `value` in decimal, zero-padded on the left to `width` digits.
    static func padded(_ value: Int, _ width: Int) -> String {
        let digits = String(value)
        return digits.count < width ? String(repeating: "0", count: width - digits.count) + digits : digits
    }
}
