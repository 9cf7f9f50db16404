/// Addresses mail is sent to or from on someone's say rather than an SMTP client's: forward
/// targets, notice recipients, and the addresses of messages composed for the send API.
public enum DeliveryAddress {
    /// The domain of `address` when it is a plain RFC 5321 mailbox (`local@domain`: an
    /// unquoted dot-atom local part, a host name of letters, digits and hyphens), at most
    /// 254 octets; `nil` otherwise.
    public static func domain(of address: String) -> String? {
        guard address.utf8.count <= 254, let at = address.lastIndex(of: "@") else { return nil }
        let local = address[..<at]
        let domain = address[address.index(after: at)...]
        // Compared as bytes: a Character set would also take canonical equivalents such as
        // U+212A KELVIN SIGN for "K".
        let atext = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$%&'*+-/=?^_`{|}~".utf8)
        let localOK = !local.isEmpty && local.utf8.count <= 64
            && local.utf8.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false).allSatisfy {
                !$0.isEmpty && $0.allSatisfy(atext.contains)
            }
        let labels = domain.split(separator: ".", omittingEmptySubsequences: false)
        let domainOK = labels.count >= 2 && labels.allSatisfy { label in
            !label.isEmpty && label.count <= 63 && label.first != "-" && label.last != "-"
                && label.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-") }
        }
        return localOK && domainOK ? String(domain).lowercased() : nil
    }

    /// Whether `address` is a plain RFC 5321 mailbox (see ``domain(of:)``).
    public static func isValid(_ address: String) -> Bool {
        domain(of: address) != nil
    }
}
