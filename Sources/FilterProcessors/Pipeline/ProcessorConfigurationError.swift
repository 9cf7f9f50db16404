/// A processor's options are not valid; the message names the processor and the option.
public struct ProcessorConfigurationError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What is wrong, for the operator.
    public var description: String

    /// Creates an error.
    public init(_ description: String) { self.description = description }
}
