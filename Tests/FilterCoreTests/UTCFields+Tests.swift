import Foundation
import Testing

@testable import FilterCore

@Suite("UTCFields")
struct UTCFieldsTests {
    /// What `RFC5322Date` computed with a Gregorian `Calendar` before it used `gmtime_r`.
    static func calendarFormat(_ date: Date) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let c = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second, .weekday], from: date)
        let days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        func two(_ value: Int) -> String { value < 10 ? "0\(value)" : "\(value)" }
        return "\(days[c.weekday! - 1]), \(c.day!) \(months[c.month! - 1]) \(c.year!) \(two(c.hour!)):\(two(c.minute!)):\(two(c.second!)) +0000"
    }

    @Test func rfc5322DatesMatchWhatACalendarGives() {
        var generator = SystemRandomNumberGenerator()
        var seconds: [TimeInterval] = [0, -0.5, 951_782_400, 1_795_650_610.999_9, 4_102_444_799]
        for _ in 0..<2000 { seconds.append(TimeInterval.random(in: 0...4_102_444_799, using: &generator)) }
        let mismatches = seconds.map { Date(timeIntervalSince1970: $0) }.filter {
            RFC5322Date.format($0) != Self.calendarFormat($0)
        }
        #expect(mismatches.isEmpty, "first: \(mismatches.prefix(3).map { "\(RFC5322Date.format($0)) for \($0.timeIntervalSince1970)" })")
    }
}
