import Foundation
import Testing

@testable import FilterQuarantine

@Suite struct QuarantineTimeTests {
    let now = Date(timeIntervalSince1970: 1_790_000_000)

    @Test(arguments: [("90s", 90.0), ("30m", 1800), ("24h", 86400), ("7d", 604_800), ("2w", 1_209_600), ("0h", 0)])
    func relativeAges(text: String, seconds: Double) {
        #expect(QuarantineTime.parse(text, now: now) == now.addingTimeInterval(-seconds))
    }

    @Test func isoDatesAndTimes() {
        #expect(QuarantineTime.parse("2026-11-25T08:00:00Z", now: now) == Date(timeIntervalSince1970: 1_795_593_600))
        #expect(QuarantineTime.parse("2026-11-25T09:00:00+01:00", now: now) == Date(timeIntervalSince1970: 1_795_593_600))
        #expect(QuarantineTime.parse("2026-11-25T08:00:00.500Z", now: now) == Date(timeIntervalSince1970: 1_795_593_600.5))
        #expect(QuarantineTime.parse("2026-11-25", now: now) == Date(timeIntervalSince1970: 1_795_564_800))
    }

    @Test(arguments: ["", "yesterday", "24", "h", "-3d", "2026-13-40", "24x"])
    func rejectsOtherText(text: String) {
        #expect(QuarantineTime.parse(text, now: now) == nil)
    }
}
