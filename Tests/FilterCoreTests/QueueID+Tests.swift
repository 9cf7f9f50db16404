import Foundation
import Testing

@testable import FilterCore

@Suite struct QueueIDTests {
    @Test func sortByTimeAndUseTheSafeAlphabet() {
        let earlier = QueueID.generate(at: .init(timeIntervalSince1970: 1_000))
        let later = QueueID.generate(at: .init(timeIntervalSince1970: 2_000))
        #expect(earlier < later)
        #expect(QueueID(rawValue: "../etc") == nil)
        #expect(QueueID(rawValue: earlier.rawValue) == earlier)
    }
}
