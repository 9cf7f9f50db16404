import FilterCore

extension RecipientState {
    /// The owner's decision was `deny`: not delivered (discarded, or bounced with a DSN), and
    /// nothing more will happen.
    public static let denied = RecipientState(name: "denied", isFinal: true)
    /// `virus` or `quarantine`: the message is in the quarantine store for this recipient.
    public static let quarantined = RecipientState(name: "quarantined", isFinal: true)
    /// `pending`: kept in the spool until ``RecipientDelivery/heldUntil``, then asked again.
    public static let held = RecipientState(name: "held", isFinal: false)
}
