import FilterCore

/// Hears of every recipient whose outcome became final in a delivery attempt: delivered,
/// denied, quarantined or failed. Called after the outcome is recorded in memory and before
/// the spool entry is saved or removed, once per recipient and attempt; it must return quickly
/// (hand slow work, such as publishing, to a task of its own) and must not fail delivery.
public protocol OutcomeObserver: Sendable {
    /// The recipient at `index` of `entry` has its final state (`entry.recipients[index]`).
    func recipientFinished(_ entry: SpoolEntry, at index: Int) async
}

/// Several observers heard in order, as one.
struct OutcomeObservers: OutcomeObserver {
    let observers: [any OutcomeObserver]

    /// The observers given, as one observer; `nil` when there are none.
    static func combining(_ first: (any OutcomeObserver)?, _ others: [any OutcomeObserver]) -> (any OutcomeObserver)? {
        let all = (first.map { [$0] } ?? []) + others
        return all.count <= 1 ? all.first : OutcomeObservers(observers: all)
    }

    func recipientFinished(_ entry: SpoolEntry, at index: Int) async {
        for observer in observers {
            await observer.recipientFinished(entry, at: index)
        }
    }
}
