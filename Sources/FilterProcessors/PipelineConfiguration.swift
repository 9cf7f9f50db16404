/// A client's pipeline as written in its configuration file: processors in order, each named by
/// `type` with its own options beside it.
///
/// ```yaml
/// pipeline:
///   - type: sender-block-list
///     block: [spam@example.net, "@bad.example", .worse.example]
/// ```
///
/// Every processor validates its options when the pipeline is built, so a bad option stops
/// the client at start-up with a message naming it, not at the first message.
public struct PipelineConfiguration: Sendable, Hashable, Decodable {
    /// The processors, in order.
    public var processors: [ProcessorConfiguration]

    /// Creates a configuration.
    public init(processors: [ProcessorConfiguration]) {
        self.processors = processors
    }

    public init(from decoder: any Decoder) throws {
        processors = try [ProcessorConfiguration](from: decoder)
    }

    /// Builds the pipeline.
    /// - Throws: ``ProcessorConfigurationError`` naming the processor and the option.
    public func makePipeline() throws(ProcessorConfigurationError) -> Pipeline {
        var built: [any Processor] = []
        for (position, processor) in processors.enumerated() {
            do {
                built.append(try processor.makeProcessor())
            } catch {
                throw ProcessorConfigurationError("pipeline entry \(position + 1): \(error.description)")
            }
        }
        return Pipeline(built)
    }
}

/// One processor of a ``PipelineConfiguration``.
public enum ProcessorConfiguration: Sendable, Hashable, Decodable {
    /// ``SenderBlockList``: `block` lists addresses, `@domain`s and `.domain`s.
    case senderBlockList(block: [String])

    private enum CodingKeys: String, CodingKey {
        case type, block
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let type = try container.decode(String.self, forKey: .type)
        switch type {
        case "sender-block-list":
            self = .senderBlockList(block: try container.decode([String].self, forKey: .block))
        default:
            throw DecodingError.dataCorruptedError(
                forKey: .type, in: container, debugDescription: "unknown processor type \"\(type)\"; known: sender-block-list")
        }
    }

    /// Builds the processor, validating its options.
    public func makeProcessor() throws(ProcessorConfigurationError) -> any Processor {
        switch self {
        case .senderBlockList(let block):
            return try SenderBlockList(blocking: block)
        }
    }
}
