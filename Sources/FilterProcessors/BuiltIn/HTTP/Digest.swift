private import CCrypto

/// SHA-256 and HMAC-SHA256 through OpenSSL's libcrypto (the `CCrypto` system library), so the
/// package needs no Swift crypto package. Public for the other modules that hash or sign
/// (the web listener's API keys and tokens).
///
/// - SeeAlso: RFC 2104 (HMAC), RFC 4231 (HMAC-SHA256 test vectors), FIPS 180-4 (SHA-256).
public enum Digest {
    /// The HMAC-SHA256 of `message` under `key`: 32 bytes.
    public static func hmacSHA256(_ message: [UInt8], key: [UInt8]) -> [UInt8] {
        var code = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length: UInt32 = 0
        // A zero-length array may have no storage; OpenSSL wants a pointer even for 0 bytes.
        let keyStorage = key.isEmpty ? [0] : key
        let messageStorage = message.isEmpty ? [0] : message
        _ = keyStorage.withUnsafeBytes { keyBytes in
            messageStorage.withUnsafeBufferPointer { messageBytes in
                HMAC(EVP_sha256(), keyBytes.baseAddress, Int32(key.count), messageBytes.baseAddress, message.count, &code, &length)
            }
        }
        return Array(code.prefix(Int(length)))
    }

    /// The SHA-256 of `message`: 32 bytes.
    public static func sha256(_ message: [UInt8]) -> [UInt8] {
        var digest = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length: UInt32 = 0
        let bytes = message.isEmpty ? [0] : message
        _ = bytes.withUnsafeBufferPointer { buffer in
            EVP_Digest(buffer.baseAddress, message.count, &digest, &length, EVP_sha256(), nil)
        }
        return Array(digest.prefix(Int(length)))
    }

    /// Whether `a` and `b` are equal, in a time that depends on their lengths only, not on
    /// where they differ: for comparing a secret with what a client sent.
    public static func constantTimeEquals(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for index in a.indices { difference |= a[index] ^ b[index] }
        return difference == 0
    }

    /// `bytes` as lowercase hexadecimal.
    public static func hex(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var text: [UInt8] = []
        text.reserveCapacity(bytes.count * 2)
        for byte in bytes {
            text.append(digits[Int(byte >> 4)])
            text.append(digits[Int(byte & 0x0f)])
        }
        return String(decoding: text, as: UTF8.self)
    }
}
