#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import NIOCore

/// An IPv4 or IPv6 network in CIDR notation (`127.0.0.0/8`, `::1`, `[::1]/128`), used for the
/// lists of peers allowed to connect and to send XFORWARD.
public struct PeerAddressRange: Sendable, Hashable, CustomStringConvertible {
    private let network: [UInt8]
    private let prefixLength: Int

    /// Parses CIDR notation; a bare address is a network of one host.
    public init?(_ text: String) {
        var addressText = Substring(text)
        var prefix: Int?
        if let slash = text.lastIndex(of: "/") {
            let digits = text[text.index(after: slash)...]
            guard !digits.isEmpty, digits.allSatisfy(\.isASCII), digits.allSatisfy(\.isNumber), let length = Int(digits)
            else { return nil }
            prefix = length
            addressText = text[..<slash]
        }
        if addressText.hasPrefix("["), addressText.hasSuffix("]") {
            addressText = addressText.dropFirst().dropLast()
        }
        guard let bytes = Self.addressBytes(String(addressText)) else { return nil }
        let length = prefix ?? bytes.count * 8
        guard (0...bytes.count * 8).contains(length) else { return nil }
        self.network = bytes
        self.prefixLength = length
    }

    /// Whether the address lies in this network. IPv4-mapped IPv6 addresses (`::ffff:a.b.c.d`)
    /// match IPv4 networks.
    public func contains(_ address: SocketAddress) -> Bool {
        guard let text = address.ipAddress, var bytes = Self.addressBytes(text) else { return false }
        if network.count == 4, bytes.count == 16, bytes[0..<10].allSatisfy({ $0 == 0 }), bytes[10] == 0xFF, bytes[11] == 0xFF {
            bytes = Array(bytes[12...])
        }
        guard bytes.count == network.count else { return false }
        var remaining = prefixLength
        for (have, want) in zip(bytes, network) where remaining > 0 {
            let bits = min(8, remaining)
            let mask: UInt8 = bits == 8 ? 0xFF : ~(0xFF >> UInt8(bits))
            guard have & mask == want & mask else { return false }
            remaining -= bits
        }
        return true
    }

    public var description: String {
        let text = network.count == 4
            ? network.map(String.init).joined(separator: ".")
            : stride(from: 0, to: 16, by: 2).map { String(UInt16(network[$0]) << 8 | UInt16(network[$0 + 1]), radix: 16) }.joined(separator: ":")
        return "\(text)/\(prefixLength)"
    }

    /// The loopback networks, the default for both lists.
    public static let loopback: [PeerAddressRange] = [PeerAddressRange("127.0.0.0/8")!, PeerAddressRange("::1/128")!]

    private static func addressBytes(_ text: String) -> [UInt8]? {
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 {
            return withUnsafeBytes(of: &v4) { Array($0) }
        }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, text, &v6) == 1 {
            return withUnsafeBytes(of: &v6) { Array($0) }
        }
        return nil
    }
}
