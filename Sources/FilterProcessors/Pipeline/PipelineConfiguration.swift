import FilterCore

/// A client's pipeline as written in its configuration file: processors in order, each named by
/// `type`, with the keys every step has and the processor's own options beside them.
///
/// ```yaml
/// pipeline:
///   - type: sender-list
///     block: [spam@example.net, "@bad.example", "*.worse.example"]
///   - type: spamassassin
///     name: spamd
///     timeout: 10        # seconds; default 30
///     on_error: continue # or an action: pass, deny, spam, quarantine, ...
/// ```
///
/// Decoding builds every processor, so a bad option stops the client at start-up with a
/// message naming the entry and the option, not at the first message. The processor types
/// come from the decoder's ``CodingUserInfoKey/processorRegistry``.
public struct PipelineConfiguration: Sendable, Decodable {
    /// The steps, in order.
    public var steps: [PipelineStep]

    /// Creates a configuration from steps built in code.
    public init(steps: [PipelineStep] = []) {
        self.steps = steps
    }

    /// The keys every entry may have besides its processor's options.
    static let stepKeys: Set<String> = ["type", "name", "timeout", "on_error"]

    public init(from decoder: any Decoder) throws {
        let registry = decoder.userInfo[.processorRegistry] as? ProcessorRegistry ?? .builtIn
        var entries = try decoder.unkeyedContainer()
        var steps: [PipelineStep] = []
        var names: Set<String> = []
        while !entries.isAtEnd {
            let position = entries.currentIndex + 1
            let entry = try entries.superDecoder()
            do {
                let step = try Self.step(from: entry, registry: registry)
                guard names.insert(step.processor.name).inserted else {
                    throw ProcessorConfigurationError("the name \"\(step.processor.name)\" is used twice; give one of them another `name`")
                }
                steps.append(step)
            } catch let error as ProcessorConfigurationError {
                throw ProcessorConfigurationError("pipeline entry \(position): \(error.description)")
            }
        }
        self.steps = steps
    }

    /// The pipeline these steps make.
    public func makePipeline() -> Pipeline {
        Pipeline(steps: steps)
    }

    private static func step(from entry: any Decoder, registry: ProcessorRegistry) throws -> PipelineStep {
        let keys = try entry.container(keyedBy: AnyKey.self)
        func string(_ key: String) throws -> String? {
            try keys.decodeIfPresent(String.self, forKey: AnyKey(key))
        }
        guard let type = try string("type") else {
            throw ProcessorConfigurationError("`type` is missing; known types: \(registry.types.joined(separator: ", "))")
        }
        guard let optionKeys = registry.optionKeys(of: type) else {
            throw ProcessorConfigurationError("unknown processor type \"\(type)\"; known: \(registry.types.joined(separator: ", "))")
        }
        let unknown = keys.allKeys.map(\.stringValue).filter { !stepKeys.contains($0) && !optionKeys.contains($0) }.sorted()
        guard unknown.isEmpty else {
            let known = (stepKeys.union(optionKeys)).sorted().joined(separator: ", ")
            throw ProcessorConfigurationError("\(type): unknown option \(unknown.joined(separator: ", ")); known: \(known)")
        }
        let name = try string("name") ?? type
        var step = PipelineStep(try Self.processor(type: type, name: name, entry: entry, registry: registry))
        if let seconds = try keys.decodeIfPresent(Double.self, forKey: AnyKey("timeout")) {
            guard seconds > 0 else { throw ProcessorConfigurationError("\(name).timeout: must be a positive number of seconds") }
            step.timeout = .milliseconds(Int64(seconds * 1000))
        }
        if let policy = try string("on_error") {
            step.onError = try errorPolicy(policy, key: "\(name).on_error")
        }
        return step
    }

    private static func processor(type: String, name: String, entry: any Decoder, registry: ProcessorRegistry) throws -> any Processor {
        do {
            return try registry.makeProcessor(type: type, name: name, decoder: entry)
        } catch let error as DecodingError {
            throw ProcessorConfigurationError("\(name): \(error.lastKey.map { "`\($0)`: " } ?? "")\(error.operatorDescription)")
        }
    }

    /// `continue`, or an action of wire protocol v1.
    static func errorPolicy(_ text: String, key: String) throws(ProcessorConfigurationError) -> ProcessorErrorPolicy {
        let text = text.lowercased()
        if text == "continue" { return .continue }
        return .decide(try FilterAction.configured(text, key: key))
    }
}

extension FilterAction {
    /// The action named `text` in a configuration file.
    /// - Throws: ``ProcessorConfigurationError`` naming `key` when it is not an action of wire protocol v1.
    static func configured(_ text: String, key: String) throws(ProcessorConfigurationError) -> FilterAction {
        let action = FilterAction(rawValue: text.lowercased())
        guard FilterAction.allKnown.contains(action) else {
            throw ProcessorConfigurationError("\(key): \"\(text)\" is not an action; use one of \(FilterAction.allKnown.map(\.rawValue).joined(separator: ", "))")
        }
        return action
    }
}

/// A coding key of any name: pipeline entries are read key by key.
struct AnyKey: CodingKey {
    var stringValue: String
    var intValue: Int? { nil }
    init(_ string: String) { stringValue = string }
    init?(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }
}
