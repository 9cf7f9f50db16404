import FilterCore

/// A step of a client's pipeline: it looks at a message for one recipient and either decides an
/// action or lets the next step look.
///
/// This is the core of the contract; options, per-processor timeouts, `onError` and the
/// built-in processors grow on it (see the processors issue).
public protocol Processor: Sendable {
    /// A short name for traces and logs.
    var name: String { get }
    /// Returns a decision, or `nil` to let the next processor look.
    func process(_ envelope: Envelope, recipient: EnvelopeRecipient) async throws -> FilterAction?
}

/// Runs processors in order; the first decision wins, and no decision means `pass`.
public struct Pipeline: Sendable {
    /// The processors, in order.
    public var processors: [any Processor]

    /// Creates a pipeline.
    public init(_ processors: [any Processor]) {
        self.processors = processors
    }

    /// The decision for one recipient and the name of the processor that made it (`nil` when
    /// none did and the default `pass` applies).
    public func decide(_ envelope: Envelope, recipient: EnvelopeRecipient) async throws -> (action: FilterAction, decidedBy: String?) {
        for processor in processors {
            if let action = try await processor.process(envelope, recipient: recipient) {
                return (action, processor.name)
            }
        }
        return (.pass, nil)
    }
}
