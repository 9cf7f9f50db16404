/// What should happen to a message for one recipient (DESIGN.md, "Actions").
///
/// An open set: the wire protocol carries the raw value, and a reply with a value the server
/// does not know is a bad reply, not a crash.
public struct FilterAction: RawRepresentable, Sendable, Hashable, Codable, CustomStringConvertible {
    public var rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    public var description: String { rawValue }

    /// Deliver, with any header edits.
    public static let pass = FilterAction(rawValue: "pass")
    /// Do not deliver; discard or bounce by policy.
    public static let deny = FilterAction(rawValue: "deny")
    /// Deliver tagged as spam.
    public static let spam = FilterAction(rawValue: "spam")
    /// Never deliver; quarantine.
    public static let virus = FilterAction(rawValue: "virus")
    /// Deliver to other addresses instead of, or as well as, the recipient.
    public static let forward = FilterAction(rawValue: "forward")
    /// Keep in the quarantine store.
    public static let quarantine = FilterAction(rawValue: "quarantine")
    /// Hold and ask again later.
    public static let pending = FilterAction(rawValue: "pending")

    /// The actions wire protocol v1 defines.
    public static let allKnown: [FilterAction] = [.pass, .deny, .spam, .virus, .forward, .quarantine, .pending]
}
