import FilterCore

/// A processor that a configuration file can name: it has a `type` and builds itself from
/// its options, validating them.
public protocol ConfigurableProcessor: Processor {
    /// Its options, decoded from the pipeline entry (beside `type`, `name`, `timeout`, `on_error`).
    associatedtype Options: Decodable
    /// The `type` that names it in a pipeline entry, for example `sender-list`.
    static var type: String { get }
    /// The option keys it reads; any other key in its entry is refused as a typo.
    static var optionKeys: Set<String> { get }
    /// Builds the processor.
    /// - Parameters:
    ///   - name: its name in traces: the entry's `name`, or `type` when none is given.
    ///   - options: the decoded options.
    /// - Throws: ``ProcessorConfigurationError`` naming the bad option.
    init(name: String, options: Options) throws(ProcessorConfigurationError)
}

/// The processor types a pipeline configuration may name.
///
/// ``builtIn`` knows every processor of this module; an application that adds its own
/// registers them on a copy and hands it to the decoder under ``CodingUserInfoKey/processorRegistry``.
public struct ProcessorRegistry: Sendable {
    typealias Factory = @Sendable (_ name: String, _ decoder: any Decoder) throws -> any Processor

    private var factories: [String: (keys: Set<String>, make: Factory)] = [:]

    /// An empty registry.
    public init() {}

    /// The processors this module provides.
    public static var builtIn: ProcessorRegistry {
        var registry = ProcessorRegistry()
        registry.register(SenderList.self)
        registry.register(SpamAssassin.self)
        registry.register(ClamAV.self)
        registry.register(Rspamd.self)
        registry.register(Rules.self)
        registry.register(Webhook.self)
        registry.register(Notify.self)
        registry.register(MessageOutput.self)
        registry.register(Forward.self)
        registry.register(Delay.self)
        return registry
    }

    /// The registered type names, sorted.
    public var types: [String] { factories.keys.sorted() }

    /// Adds `processor`, replacing a registered type of the same name.
    public mutating func register<P: ConfigurableProcessor>(_ processor: P.Type) {
        factories[P.type] = (P.optionKeys, { name, decoder in
            try P(name: name, options: try P.Options(from: decoder))
        })
    }

    /// The option keys of `type`, `nil` when it is not registered.
    func optionKeys(of type: String) -> Set<String>? {
        factories[type]?.keys
    }

    /// Builds a processor of `type` from the entry `decoder` reads.
    func makeProcessor(type: String, name: String, decoder: any Decoder) throws -> any Processor {
        guard let factory = factories[type] else {
            throw ProcessorConfigurationError("unknown processor type \"\(type)\"; known: \(types.joined(separator: ", "))")
        }
        return try factory.make(name, decoder)
    }
}

extension CodingUserInfoKey {
    /// The ``ProcessorRegistry`` a ``PipelineConfiguration`` is decoded with;
    /// ``ProcessorRegistry/builtIn`` when absent.
    public static let processorRegistry = CodingUserInfoKey(rawValue: "filter.processorRegistry")!
}
