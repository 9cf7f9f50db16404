private import CCrypto
import FilterProcessors
import Foundation

/// A stored console password: PBKDF2 with HMAC-SHA256 (libcrypto's `PKCS5_PBKDF2_HMAC`), written
/// `pbkdf2-sha256$ITERATIONS$SALT_B64$HASH_B64` (standard Base64 with padding), as in the lines of
/// the console's password files and the output of `filterctl web hash-password`.
///
/// - SeeAlso: RFC 8018 §5.2 (PBKDF2), RFC 7914 §11 (PBKDF2-HMAC-SHA256 test vectors).
public struct PasswordHash: Sendable, Hashable, CustomStringConvertible {
    /// The scheme name that starts every hash.
    public static let scheme = "pbkdf2-sha256"
    /// The iteration count new hashes get by default: OWASP's 2023 recommendation for
    /// PBKDF2-HMAC-SHA256 (about a third of a second on one core here).
    public static let defaultIterations = 600_000
    /// The fewest iterations a stored hash may have (tests use few; operators should not).
    public static let minimumIterations = 1
    /// The most iterations a stored hash may have, so a hostile file cannot stall logins.
    public static let maximumIterations = 100_000_000
    /// The salt length of new hashes, in bytes.
    public static let saltLength = 16
    /// The derived key length of new hashes, in bytes (SHA-256's output size).
    public static let hashLength = 32

    /// The PBKDF2 iteration count.
    public var iterations: Int
    /// The salt.
    public var salt: [UInt8]
    /// The derived key.
    public var hash: [UInt8]

    /// A hash from its parts.
    public init(iterations: Int, salt: [UInt8], hash: [UInt8]) {
        self.iterations = iterations
        self.salt = salt
        self.hash = hash
    }

    /// A hash of `password` with a fresh random salt.
    /// - Parameters:
    ///   - password: The password (its UTF-8 bytes are hashed).
    ///   - iterations: The PBKDF2 iteration count (default ``defaultIterations``).
    public init(hashing password: String, iterations: Int = PasswordHash.defaultIterations) {
        var generator = SystemRandomNumberGenerator()
        let salt = (0..<Self.saltLength).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
        self.init(hashing: password, salt: salt, iterations: iterations)
    }

    /// A hash of `password` with a given salt (tests, known vectors).
    /// - Parameters:
    ///   - password: The password (its UTF-8 bytes are hashed).
    ///   - salt: The salt.
    ///   - iterations: The PBKDF2 iteration count.
    ///   - length: The derived key length, in bytes.
    public init(hashing password: String, salt: [UInt8], iterations: Int, length: Int = PasswordHash.hashLength) {
        self.iterations = iterations
        self.salt = salt
        self.hash = Self.pbkdf2(password: password, salt: salt, iterations: iterations, length: length)
    }

    /// Parses `pbkdf2-sha256$ITERATIONS$SALT_B64$HASH_B64`.
    /// - Throws: ``ConsoleAuthError/Code/malformedHash`` naming the part that is wrong.
    public init(parsing text: some StringProtocol) throws(ConsoleAuthError) {
        let parts = text.split(separator: "$", omittingEmptySubsequences: false)
        guard parts.count == 4, parts[0] == Self.scheme else {
            throw ConsoleAuthError(.malformedHash, "a password hash must be \(Self.scheme)$ITERATIONS$SALT_B64$HASH_B64")
        }
        guard let iterations = Int(parts[1]), (Self.minimumIterations...Self.maximumIterations).contains(iterations) else {
            throw ConsoleAuthError(
                .malformedHash,
                "the iteration count must be a whole number in \(Self.minimumIterations)...\(Self.maximumIterations)")
        }
        guard let salt = Data(base64Encoded: String(parts[2])), !salt.isEmpty else {
            throw ConsoleAuthError(.malformedHash, "the salt is not Base64")
        }
        guard let hash = Data(base64Encoded: String(parts[3])), !hash.isEmpty else {
            throw ConsoleAuthError(.malformedHash, "the hash is not Base64")
        }
        self.iterations = iterations
        self.salt = Array(salt)
        self.hash = Array(hash)
    }

    /// The stored form, `pbkdf2-sha256$ITERATIONS$SALT_B64$HASH_B64`.
    public var description: String {
        "\(Self.scheme)$\(iterations)$\(Data(salt).base64EncodedString())$\(Data(hash).base64EncodedString())"
    }

    /// Whether `password` hashes to this hash (compared in constant time). CPU-bound for
    /// ``iterations``: call it off the event loops.
    public func matches(_ password: String) -> Bool {
        let candidate = Self.pbkdf2(password: password, salt: salt, iterations: iterations, length: hash.count)
        return Digest.constantTimeEquals(candidate, hash)
    }

    private static func pbkdf2(password: String, salt: [UInt8], iterations: Int, length: Int) -> [UInt8] {
        var output = [UInt8](repeating: 0, count: length)
        let passwordBytes = Array(password.utf8)
        // A zero-length array may have no storage; libcrypto wants a pointer even for 0 bytes.
        let passwordStorage: [UInt8] = passwordBytes.isEmpty ? [0] : passwordBytes
        let saltStorage: [UInt8] = salt.isEmpty ? [0] : salt
        let status = passwordStorage.withUnsafeBufferPointer { passwordBuffer in
            saltStorage.withUnsafeBufferPointer { saltBuffer in
                passwordBuffer.withMemoryRebound(to: CChar.self) { passwordChars in
                    PKCS5_PBKDF2_HMAC(
                        passwordChars.baseAddress, Int32(passwordBytes.count), saltBuffer.baseAddress, Int32(salt.count),
                        Int32(clamping: iterations), EVP_sha256(), Int32(length), &output)
                }
            }
        }
        // libcrypto fails only when out of memory; no key then matches nothing.
        precondition(status == 1, "PKCS5_PBKDF2_HMAC failed")
        return output
    }
}
