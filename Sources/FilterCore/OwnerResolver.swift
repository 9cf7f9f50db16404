/// Finds the owner of a recipient address (DESIGN.md, flow step 3): the address lowercased,
/// an address extension removed (as Postfix's `recipient_delimiter`), then the alias map.
public struct OwnerResolver: Sendable, Hashable {
    /// The characters that start an address extension, as Postfix's `recipient_delimiter`
    /// (each character is a delimiter). Default `+`; empty disables extension stripping.
    public var delimiters: Set<Character>
    /// Canonical address → owner, applied after lowercasing and stripping (keys lowercase).
    public var aliases: [String: String]

    /// Creates a resolver.
    public init(delimiters: Set<Character> = ["+"], aliases: [String: String] = [:]) {
        self.delimiters = delimiters
        self.aliases = Dictionary(aliases.map { ($0.key.lowercased(), $0.value.lowercased()) }) { first, _ in first }
    }

    /// The owner of `recipient`.
    public func owner(of recipient: String) -> String {
        let address = recipient.lowercased()
        let canonical: String
        if let at = address.lastIndex(of: "@") {
            var local = address[..<at]
            // `postmaster`-style special local parts have no extension; a delimiter at the very
            // start is part of the name, as in Postfix.
            if let cut = local.dropFirst().firstIndex(where: { delimiters.contains($0) }) {
                local = local[..<cut]
            }
            canonical = String(local + address[at...])
        } else {
            canonical = address
        }
        return aliases[canonical] ?? canonical
    }
}
