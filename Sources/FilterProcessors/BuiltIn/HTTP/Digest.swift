private import CCrypto

/// SHA-256 and HMAC-SHA256 through OpenSSL's libcrypto (the `CCrypto` system library), so the
/// module needs no Swift crypto package. Package-visible for FilterWeb's signed login tokens.
///
/// - SeeAlso: RFC 2104 (HMAC), RFC 4231 (HMAC-SHA256 test vectors), FIPS 180-4 (SHA-256).
package enum Digest {
    /// The HMAC-SHA256 of `message` under `key`: 32 bytes.
    package static func hmacSHA256(_ message: [UInt8], key: [UInt8]) -> [UInt8] {
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
    static func sha256(_ message: [UInt8]) -> [UInt8] {
        var digest = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length: UInt32 = 0
        let bytes = message.isEmpty ? [0] : message
        _ = bytes.withUnsafeBufferPointer { buffer in
            EVP_Digest(buffer.baseAddress, message.count, &digest, &length, EVP_sha256(), nil)
        }
        return Array(digest.prefix(Int(length)))
    }

    /// `bytes` as lowercase hexadecimal.
    static func hex(_ bytes: [UInt8]) -> String {
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
