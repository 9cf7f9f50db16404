import FilterCore

extension RecipientDecision.Source {
    /// Released from the quarantine by the operator: delivered without asking the owner again.
    public static let released = RecipientDecision.Source(rawValue: "released")
    /// A quarantine digest the server wrote itself: delivered without asking the owner.
    public static let digest = RecipientDecision.Source(rawValue: "digest")
}
