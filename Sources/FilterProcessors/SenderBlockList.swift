import FilterCore

/// Denies mail from listed senders: exact addresses (`spam@example.net`), whole domains
/// (`@example.net`) or a domain with all its subdomains (`.example.net`). Matching ignores
/// case. The null sender never matches.
public struct SenderBlockList: Processor {
    /// The processor's name in traces.
    public let name = "sender-block-list"
    private let addresses: Set<String>
    private let domains: Set<String>
    private let parentDomains: [String]

    /// Creates a block list from its entries.
    /// - Throws: ``ProcessorConfigurationError`` for an empty entry.
    public init(blocking entries: [String]) throws(ProcessorConfigurationError) {
        var addresses: Set<String> = []
        var domains: Set<String> = []
        var parentDomains: [String] = []
        for entry in entries.map({ $0.lowercased() }) {
            if entry.hasPrefix("@"), entry.count > 1 {
                domains.insert(String(entry.dropFirst()))
            } else if entry.hasPrefix("."), entry.count > 1 {
                parentDomains.append(entry)
            } else if entry.contains("@"), !entry.hasSuffix("@") {
                addresses.insert(entry)
            } else {
                throw ProcessorConfigurationError("sender block list: \"\(entry)\" is neither an address, @domain nor .domain")
            }
        }
        self.addresses = addresses
        self.domains = domains
        self.parentDomains = parentDomains
    }

    /// Denies when the sender matches an entry.
    public func process(_ envelope: Envelope, recipient: EnvelopeRecipient) async throws -> FilterAction? {
        blocks(envelope.mailFrom) ? .deny : nil
    }

    /// Whether `sender` matches an entry.
    public func blocks(_ sender: String) -> Bool {
        let sender = sender.lowercased()
        guard let at = sender.lastIndex(of: "@") else { return false }
        let domain = String(sender[sender.index(after: at)...])
        if addresses.contains(sender) || domains.contains(domain) { return true }
        return parentDomains.contains { domain.hasSuffix($0) || "." + domain == $0 }
    }
}

/// A processor's options are not valid; the message names the processor and the option.
public struct ProcessorConfigurationError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What is wrong, for the operator.
    public var description: String

    /// Creates an error.
    public init(_ description: String) { self.description = description }
}
