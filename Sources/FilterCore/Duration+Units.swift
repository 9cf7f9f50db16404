import Foundation

extension Duration {
    /// The duration in whole milliseconds, rounded toward zero: what AMQP's `expiration`
    /// and `poll(2)` take, and what traces report.
    public var wholeMilliseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1000 + attoseconds / 1_000_000_000_000_000
    }

    /// The duration in seconds, with fractions, for `Date` arithmetic.
    public var timeInterval: TimeInterval {
        TimeInterval(components.seconds) + TimeInterval(components.attoseconds) / 1e18
    }
}
