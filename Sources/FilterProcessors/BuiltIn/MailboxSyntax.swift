import Foundation

/// The syntax of a forward-path mailbox, RFC 5321 §4.1.2 with the RFC 6531 extension for UTF-8:
/// `local-part@domain` where the local part is a dot-string or a quoted string and the domain
/// is dot-separated labels or an address literal (`[192.0.2.1]`, `[IPv6:2001:db8::1]`), within
/// the limits of RFC 5321 §4.5.3.1 (local part 64 octets, domain 255, path 256).
enum MailboxSyntax {
    /// Whether `address` is a mailbox one could deliver to.
    static func isValid(_ address: String) -> Bool {
        guard address.utf8.count <= 254, let at = address.lastIndex(of: "@") else { return false }
        let local = address[..<at]
        let domain = address[address.index(after: at)...]
        guard !local.isEmpty, local.utf8.count <= 64, !domain.isEmpty, domain.utf8.count <= 255 else { return false }
        return isLocalPart(local) && (isDomain(domain) || isAddressLiteral(domain))
    }

    /// `atext` of RFC 5322 §3.2.3, plus any non-ASCII scalar (RFC 6531 `UTF8-non-ascii`).
    private static func isAtext(_ scalar: Unicode.Scalar) -> Bool {
        if !scalar.isASCII { return scalar.properties.generalCategory != .control }
        if ("a"..."z").contains(scalar) || ("A"..."Z").contains(scalar) || ("0"..."9").contains(scalar) { return true }
        return "!#$%&'*+-/=?^_`{|}~".unicodeScalars.contains(scalar)
    }

    private static func isLocalPart(_ local: Substring) -> Bool {
        if local.hasPrefix("\"") { return isQuotedString(local) }
        return local.split(separator: ".", omittingEmptySubsequences: false).allSatisfy { atom in
            !atom.isEmpty && atom.unicodeScalars.allSatisfy(isAtext)
        }
    }

    /// `"..."` holding printable ASCII other than `"` and `\`, or `\` before printable ASCII.
    private static func isQuotedString(_ text: Substring) -> Bool {
        let scalars = Array(text.unicodeScalars)
        guard scalars.count >= 2, scalars.last == "\"" else { return false }
        var index = 1
        while index < scalars.count - 1 {
            let scalar = scalars[index]
            if scalar == "\\" {
                guard index + 1 < scalars.count - 1, (32...126).contains(scalars[index + 1].value) else { return false }
                index += 2
            } else {
                guard scalar != "\"", (32...126).contains(scalar.value) || !scalar.isASCII else { return false }
                index += 1
            }
        }
        return true
    }

    /// Labels of letters, digits and inner hyphens (or non-ASCII, for IDNs), at most 63 octets.
    private static func isDomain(_ domain: Substring) -> Bool {
        domain.split(separator: ".", omittingEmptySubsequences: false).allSatisfy { label in
            guard !label.isEmpty, label.utf8.count <= 63, label.first != "-", label.last != "-" else { return false }
            return label.unicodeScalars.allSatisfy { scalar in
                !scalar.isASCII ? scalar.properties.isAlphabetic || scalar.properties.numericType != nil
                    : ("a"..."z").contains(scalar) || ("A"..."Z").contains(scalar) || ("0"..."9").contains(scalar) || scalar == "-"
            }
        }
    }

    /// `[IPv4]` or `[IPv6:address]`, checked with `inet_pton`.
    private static func isAddressLiteral(_ domain: Substring) -> Bool {
        guard domain.hasPrefix("["), domain.hasSuffix("]") else { return false }
        let inner = String(domain.dropFirst().dropLast())
        var buffer = [UInt8](repeating: 0, count: 16)
        if inner.lowercased().hasPrefix("ipv6:") {
            return inet_pton(AF_INET6, String(inner.dropFirst(5)), &buffer) == 1
        }
        return inet_pton(AF_INET, inner, &buffer) == 1
    }
}
