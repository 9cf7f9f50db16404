import FilterCore
import FilterEngine

/// The `actions:` section of `filtering:` (and of each `filtering.owners.<owner>:`): how decided
/// actions are applied. Every key is optional; docs/configuration.md lists them.
struct ActionPolicySection: Codable {
    var deny: String?
    var discloseReason: Bool?
    var spam: Spam?
    var virus: Virus?
    var forward: Forward?
    var maxHold: Double?
    var retryAfter: Double?
    var delayNoticeAfter: Double?

    struct Spam: Codable {
        var subjectTag: String?
        var redirect: String?
        enum CodingKeys: String, CodingKey, CaseIterable { case subjectTag = "subject_tag", redirect }
    }

    struct Virus: Codable {
        var notifyRecipient: Bool?
        var notify: String?
        enum CodingKeys: String, CodingKey, CaseIterable { case notifyRecipient = "notify_recipient", notify }
    }

    struct Forward: Codable {
        var mode: String?
        var domains: [String]?
        var maxAddresses: Int?
        enum CodingKeys: String, CodingKey, CaseIterable { case mode, domains, maxAddresses = "max_addresses" }
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case deny, spam, virus, forward
        case discloseReason = "disclose_reason", maxHold = "max_hold", retryAfter = "retry_after"
        case delayNoticeAfter = "delay_notice_after"
    }

    /// An owner's override: these keys, except the server-wide ones, which are refused here;
    /// `key` is the section's path for error messages.
    func makeOverride(key: [String]) throws -> ActionPolicy.Override {
        for (value, name) in [(retryAfter, "retry_after"), (delayNoticeAfter, "delay_notice_after")] where value != nil {
            throw ConfigurationError(key: key + [name], "is a server-wide setting; set it under filtering.actions")
        }
        return try overrideOfSharedKeys(key: key)
    }

    /// The keys a server and an owner both may set.
    private func overrideOfSharedKeys(key: [String]) throws -> ActionPolicy.Override {
        var override = ActionPolicy.Override()
        override.deny = try deny.map { try Self.choice($0, ActionPolicy.DenyPolicy.self, key: key + ["deny"]) }
        override.discloseReason = discloseReason
        override.spamSubjectTag = spam?.subjectTag
        override.spamRedirect = try spam?.redirect.map { try Self.spamRedirect($0, key: key + ["spam", "redirect"]) }
        override.virusNoticeToRecipient = virus?.notifyRecipient
        override.virusNoticeTo = try virus?.notify.map { try Self.address($0, key: key + ["virus", "notify"]) }
        override.forwardMode = try forward?.mode.map { try Self.choice($0, ActionPolicy.ForwardMode.self, key: key + ["forward", "mode"]) }
        override.forwardDomains = try forward?.domains.map { try Self.domains($0, key: key + ["forward", "domains"]) }
        override.forwardMaximumAddresses = try forward?.maxAddresses.map { value in
            guard value >= 1 else { throw ConfigurationError(key: key + ["forward", "max_addresses"], "must be at least 1, got \(value)") }
            return value
        }
        override.maximumHold = try maxHold.map { try ServerConfigurationFile.seconds($0, key + ["max_hold"]) }
        return override
    }

    /// The server-wide policy: the defaults with these keys applied.
    func makePolicy(key: [String]) throws -> ActionPolicy {
        var policy = ActionPolicy().applying(try overrideOfSharedKeys(key: key))
        if let retryAfter { policy.defaultRetryAfter = try ServerConfigurationFile.seconds(retryAfter, key + ["retry_after"]) }
        if let delayNoticeAfter {
            policy.delayNoticeAfter = try ServerConfigurationFile.seconds(delayNoticeAfter, key + ["delay_notice_after"])
        }
        return policy
    }

    private static func choice<Choice: RawRepresentable & CaseIterable>(_ text: String, _ type: Choice.Type, key: [String]) throws -> Choice
    where Choice.RawValue == String {
        guard let value = Choice(rawValue: text.lowercased()) else {
            throw ConfigurationError(key: key, "\(text) is not one of \(Choice.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return value
    }

    private static func spamRedirect(_ text: String, key: [String]) throws -> ActionPolicy.SpamRedirect {
        if text.hasPrefix("+") || text.hasPrefix("-") {
            let tag = String(text.dropFirst())
            guard !tag.isEmpty, tag.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" || $0 == ".") }) else {
                throw ConfigurationError(key: key, "\(text) is neither +extension (letters, digits, - _ .) nor an address")
            }
            return .extension(tag)
        }
        return .address(try address(text, key: key))
    }

    private static func address(_ text: String, key: [String]) throws -> String {
        guard DeliveryAddress.isValid(text) else { throw ConfigurationError(key: key, "\(text) is not a valid address") }
        return text
    }

    private static func domains(_ texts: [String], key: [String]) throws -> [String] {
        try texts.map { text in
            let bare = text.hasPrefix("*.") ? String(text.dropFirst(2)) : text
            guard DeliveryAddress.isValid("postmaster@\(bare)") else { throw ConfigurationError(key: key, "\(text) is not a domain or *.domain") }
            return text.lowercased()
        }
    }
}
