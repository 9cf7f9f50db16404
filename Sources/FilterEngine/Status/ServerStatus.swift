import FilterCore
import FilterQueue
import Foundation
import NIOConcurrencyHelpers

/// A snapshot of a running server for its console: how much mail waits, how many owners'
/// answers are awaited, how the next hop answers and how fast mail arrives.
public struct ServerStatus: Sendable, Hashable {
    /// Spooled messages that still have a recipient without a final outcome (being decided,
    /// ready, in delivery or waiting for a retry).
    public var queueDepth: Int
    /// Of those, the messages waiting for a retry or the end of a hold.
    public var deferred: Int
    /// Requests published to owners and not yet answered (nor expired).
    public var outstandingRequests: Int
    /// How the next hop answered the last delivery attempt.
    public var nextHop: NextHopHealth
    /// Messages accepted over SMTP in the last 60 seconds (divide by 60 for messages/s).
    public var receivedLastMinute: Int
    /// When the snapshot was taken.
    public var takenAt: Date

    /// Creates a snapshot.
    public init(
        queueDepth: Int, deferred: Int, outstandingRequests: Int, nextHop: NextHopHealth, receivedLastMinute: Int,
        takenAt: Date
    ) {
        self.queueDepth = queueDepth
        self.deferred = deferred
        self.outstandingRequests = outstandingRequests
        self.nextHop = nextHop
        self.receivedLastMinute = receivedLastMinute
        self.takenAt = takenAt
    }
}

/// The outcome of the server's last delivery attempt to its next hop.
public struct NextHopHealth: Sendable, Hashable {
    /// When the last attempt ended; `nil` before the first one.
    public var lastAttemptAt: Date?
    /// Whether the next hop accepted the last transaction (its final reply was positive).
    public var lastAttemptSucceeded: Bool?
    /// The next hop's final reply to the last attempt, or why there was none (connection refused,
    /// time-out).
    public var lastReply: String?
    /// When the next hop last accepted a transaction.
    public var lastSuccessAt: Date?

    /// Creates a health record; empty by default (no attempt yet).
    public init(lastAttemptAt: Date? = nil, lastAttemptSucceeded: Bool? = nil, lastReply: String? = nil, lastSuccessAt: Date? = nil) {
        self.lastAttemptAt = lastAttemptAt
        self.lastAttemptSucceeded = lastAttemptSucceeded
        self.lastReply = lastReply
        self.lastSuccessAt = lastSuccessAt
    }
}

/// Records every delivery attempt's result, shared by the delivery agents of all event loops.
final class NextHopMonitor: Sendable {
    private let health = NIOLockedValueBox(NextHopHealth())

    /// The last attempt's result.
    var current: NextHopHealth { health.withLockedValue { $0 } }

    /// Records an attempt that ended at `date`.
    func record(succeeded: Bool, reply: String, at date: Date) {
        health.withLockedValue { health in
            health.lastAttemptAt = date
            health.lastAttemptSucceeded = succeeded
            health.lastReply = reply
            if succeeded { health.lastSuccessAt = date }
        }
    }
}

/// Counts accepted messages in one-second buckets over the last minute.
final class ArrivalCounter: Sendable {
    /// The bucket count: the window in seconds.
    static let window = 60

    private struct Buckets {
        var counts = [Int](repeating: 0, count: ArrivalCounter.window)
        /// The second (since 1970) each bucket counts.
        var seconds = [Int](repeating: -1, count: ArrivalCounter.window)
    }

    private let buckets = NIOLockedValueBox(Buckets())

    /// Counts one message accepted at `date`.
    func record(at date: Date) {
        let second = Int(date.timeIntervalSince1970)
        let slot = second % Self.window
        buckets.withLockedValue { buckets in
            if buckets.seconds[slot] != second {
                buckets.seconds[slot] = second
                buckets.counts[slot] = 0
            }
            buckets.counts[slot] += 1
        }
    }

    /// Messages accepted in the `window` seconds before `now`.
    func count(now: Date) -> Int {
        let current = Int(now.timeIntervalSince1970)
        return buckets.withLockedValue { buckets in
            zip(buckets.seconds, buckets.counts).reduce(0) { total, bucket in
                current - bucket.0 < Self.window && bucket.0 <= current ? total + bucket.1 : total
            }
        }
    }
}

/// What the server last learnt about one owner's subscription (DESIGN.md, flow step 4).
public struct OwnerSubscription: Sendable, Hashable {
    /// The canonical owner.
    public var owner: String
    /// No queue, a queue without consumer, or a queue with consumers.
    public var subscription: Subscription
    /// When the broker was asked.
    public var checkedAt: Date

    /// Creates a record.
    public init(owner: String, subscription: Subscription, checkedAt: Date) {
        self.owner = owner
        self.subscription = subscription
        self.checkedAt = checkedAt
    }
}
