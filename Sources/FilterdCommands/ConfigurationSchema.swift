import Yams

/// The keys a configuration file may have, section by section, so that a mistyped key (which
/// `Decodable` would silently skip) stops filterd with the file, line and key named.
///
/// Each section's keys come from its `CodingKeys`; only the nesting is written here.
indirect enum ConfigurationSchema: Sendable {
    /// A value that is not checked further (a scalar, or a part checked elsewhere).
    case value
    /// A mapping with these keys, some of them sections of their own.
    case section(keys: [String], sections: [String: ConfigurationSchema])
    /// A mapping of any keys (owners, aliases), each value of one schema.
    case mapping(ConfigurationSchema)
    /// A list, each element of one schema.
    case list(ConfigurationSchema)

    /// A section whose keys are `Keys`' cases.
    static func section<Keys: CodingKey & CaseIterable>(
        _ keys: Keys.Type, _ sections: [String: ConfigurationSchema] = [:]
    ) -> ConfigurationSchema {
        .section(keys: keys.allCases.map(\.stringValue), sections: sections)
    }

    /// This schema with more keys and sections (a section that decodes another beside it).
    func merging(_ other: ConfigurationSchema) -> ConfigurationSchema {
        guard case .section(let keys, let sections) = self, case .section(let moreKeys, let moreSections) = other else { return self }
        return .section(keys: keys + moreKeys, sections: sections.merging(moreSections) { first, _ in first })
    }

    /// The first key of `yaml` this schema does not know, as an error naming its path (the
    /// line is added by the caller); `nil` when every key is known or the text is not YAML
    /// (the decoder reports that).
    func firstUnknownKey(in yaml: String) -> ConfigurationError? {
        guard let root = try? Yams.compose(yaml: yaml) else { return nil }
        return firstUnknownKey(in: root, path: [])
    }

    private func firstUnknownKey(in node: Node, path: [String]) -> ConfigurationError? {
        switch self {
        case .value:
            return nil
        case .section(let keys, let sections):
            guard let mapping = node.mapping else { return nil }
            for (keyNode, value) in mapping {
                guard let key = keyNode.string else { continue }
                guard keys.contains(key) else {
                    return ConfigurationError(key: path + [key], "unknown key; known here: \(keys.sorted().joined(separator: ", "))")
                }
                if let schema = sections[key], let error = schema.firstUnknownKey(in: value, path: path + [key]) { return error }
            }
            return nil
        case .mapping(let schema):
            guard let mapping = node.mapping else { return nil }
            for (keyNode, value) in mapping {
                if let error = schema.firstUnknownKey(in: value, path: path + [keyNode.string ?? "?"]) { return error }
            }
            return nil
        case .list(let schema):
            guard let sequence = node.sequence else { return nil }
            for (index, element) in sequence.enumerated() {
                if let error = schema.firstUnknownKey(in: element, path: path + ["\(index)"]) { return error }
            }
            return nil
        }
    }
}

extension ActionPolicySection {
    static let schema = ConfigurationSchema.section(
        CodingKeys.self,
        ["spam": .section(Spam.CodingKeys.self), "virus": .section(Virus.CodingKeys.self), "forward": .section(Forward.CodingKeys.self)])
}

extension ClientSection {
    /// The pipeline's entries are checked by the processor registry.
    static let schema = ConfigurationSchema.section(CodingKeys.self)
}

extension ClientConfigurationFile {
    static let schema = ConfigurationSchema.section(CodingKeys.self, ["monitor": .section(MonitorSection.CodingKeys.self)])
        .merging(ClientSection.schema)
}

extension ServerConfigurationFile {
    static let schema = ConfigurationSchema.section(
        CodingKeys.self,
        [
            "smtp": .section(SMTP.CodingKeys.self),
            "delivery": .section(Delivery.CodingKeys.self),
            "quarantine": .section(Quarantine.CodingKeys.self),
            "events": .section(Events.CodingKeys.self),
            "web": .section(Web.CodingKeys.self),
            "send_api": .section(SendAPIConfigurationFile.CodingKeys.self),
            "clients": .list(ClientSection.schema),
            "filtering": .section(
                Filtering.CodingKeys.self,
                [
                    "actions": ActionPolicySection.schema,
                    "header_fields": .section(Filtering.HeaderFields.CodingKeys.self),
                    "owners": .mapping(.section(Filtering.Owner.CodingKeys.self, ["actions": ActionPolicySection.schema])),
                ]),
        ])
}
