import FilterCore

/// Hears of every recipient whose outcome became final in a delivery attempt: delivered,
/// denied, quarantined or failed. Called after the outcome is recorded in memory and before
/// the spool entry is saved or removed, once per recipient and attempt; it must return quickly
/// (hand slow work, such as publishing, to a task of its own) and must not fail delivery.
public protocol OutcomeObserver: Sendable {
    /// The recipient at `index` of `entry` has its final state (`entry.recipients[index]`).
    func recipientFinished(_ entry: SpoolEntry, at index: Int) async
}
