import FilterCore
import FilterProcessors
import Foundation

/// Who is sending through the API, once a bearer token has been checked.
public struct SendCredential: Sendable, Hashable {
    /// The name the rate limit and the logs use: the key's name, or `jwt:` and the subject.
    /// Never the secret itself.
    public var name: String
    /// The owner the credential belongs to.
    public var owner: String
    /// The `From` addresses it may use, lowercased.
    public var allowedSenders: Set<String>

    /// Creates a credential.
    public init(name: String, owner: String, allowedSenders: Set<String>) {
        self.name = name
        self.owner = owner
        self.allowedSenders = Set(allowedSenders.map { $0.lowercased() })
    }

    /// Whether it may send with `address` as `From` (compared case-insensitively).
    public func mayUse(sender address: String) -> Bool {
        allowedSenders.contains(address.lowercased())
    }
}

/// A problem with the send API's credential files, said for the operator.
public struct SendAPIError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The file, and the line when the problem is one line.
    public var file: String
    /// The line number, from 1.
    public var line: Int?
    /// What is wrong.
    public var message: String

    /// Creates an error.
    public init(file: String, line: Int? = nil, _ message: String) {
        self.file = file
        self.line = line
        self.message = message
    }

    /// `file:line: message`.
    public var description: String { "\(file)\(line.map { ":\($0)" } ?? ""): \(message)" }
}

/// The API keys, stored as SHA-256 hashes only: a leaked keys file does not let anyone send.
///
/// File format, one key per line, fields separated by white space; `#` starts a comment:
///
///     # name      sha256 of the key (64 hex digits)   owner               may send as
///     alice-crm   9f86d081884c7d65...b0f00a08          alice@example.com   alice@example.com,sales@example.com
///
/// The fourth field is optional and defaults to the owner. Keys should be long random strings
/// (`openssl rand -base64 32`), so an unsalted hash is enough (nothing to guess).
public struct APIKeyStore: Sendable {
    private let credentials: [String: SendCredential]

    /// Creates a store of `credentials` by the hex SHA-256 of their key.
    public init(credentialsByKeyHash: [String: SendCredential]) {
        self.credentials = Dictionary(uniqueKeysWithValues: credentialsByKeyHash.map { ($0.key.lowercased(), $0.value) })
    }

    /// Reads the keys file at `path`.
    /// - Throws: ``SendAPIError`` naming the file and line of a bad entry, or saying why the
    ///   file cannot be read.
    public init(contentsOf path: String) throws(SendAPIError) {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw SendAPIError(file: path, "cannot read the API keys file")
        }
        try self.init(parsing: String(decoding: data, as: UTF8.self), file: path)
    }

    /// Parses the text of a keys file; `file` names it in errors.
    /// - Throws: ``SendAPIError`` naming the line of a bad entry.
    public init(parsing text: String, file: String) throws(SendAPIError) {
        var credentials: [String: SendCredential] = [:]
        var names: Set<String> = []
        for (index, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = rawLine.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
            let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\r" }).map(String.init)
            guard !fields.isEmpty else { continue }
            func fail(_ message: String) -> SendAPIError { SendAPIError(file: file, line: index + 1, message) }
            guard fields.count == 3 || fields.count == 4 else {
                throw fail("expected NAME SHA256 OWNER [FROM,FROM,...], got \(fields.count) fields")
            }
            let hash = fields[1].lowercased()
            guard hash.count == 64, hash.allSatisfy(\.isHexDigit) else {
                throw fail("the second field must be the key's SHA-256 as 64 hex digits")
            }
            guard DeliveryAddress.isValid(fields[2]) else { throw fail("\(fields[2]) is not a valid owner address") }
            let senders = fields.count == 4 ? fields[3].split(separator: ",").map(String.init) : [fields[2]]
            if let bad = senders.first(where: { !DeliveryAddress.isValid($0) }) { throw fail("\(bad) is not a valid sender address") }
            guard names.insert(fields[0]).inserted else { throw fail("the key name \(fields[0]) is used twice") }
            guard credentials[hash] == nil else { throw fail("the same key hash is listed twice") }
            credentials[hash] = SendCredential(name: fields[0], owner: fields[2], allowedSenders: Set(senders))
        }
        self.credentials = credentials
    }

    /// The credential of `key`, or `nil` for an unknown key.
    public func credential(forKey key: String) -> SendCredential? {
        credentials[Digest.hex(Digest.sha256(Array(key.utf8)))]
    }

    /// How many keys the store holds.
    public var count: Int { credentials.count }
}

/// Checks JSON Web Tokens (RFC 7519) signed with HMAC-SHA256 (`HS256`, RFC 7518 §3.2) under a
/// shared secret. Only `HS256` is accepted: `none`, other HMACs and every asymmetric algorithm
/// are refused, whatever the token's header says (RFC 8725 §3.1, §2.1).
///
/// Claims: `sub` must be the sender address the token allows; `exp` is required; `nbf` and
/// `iat` are honoured when present; each within ``clockSkew``.
public struct JWTVerifier: Sendable {
    /// Why a token was refused; the description is safe to show to the caller.
    public struct Failure: Error, Sendable, Hashable, CustomStringConvertible {
        /// What is wrong with the token.
        public var reason: String
        init(_ reason: String) { self.reason = reason }
        /// The reason.
        public var description: String { reason }
    }

    private let secret: [UInt8]
    /// How far clocks may disagree.
    public var clockSkew: Duration

    /// Creates a verifier for tokens signed with `secret`.
    public init(secret: [UInt8], clockSkew: Duration = .seconds(60)) {
        self.secret = secret
        self.clockSkew = clockSkew
    }

    /// Reads the secret from the file at `path`; one final line break is not part of it.
    /// - Throws: ``SendAPIError`` when the file cannot be read or the secret is shorter than
    ///   32 octets (RFC 7518 §3.2: a key at least as long as the hash output).
    public init(secretFile path: String, clockSkew: Duration = .seconds(60)) throws(SendAPIError) {
        guard var bytes = FileManager.default.contents(atPath: path).map(Array.init) else {
            throw SendAPIError(file: path, "cannot read the JWT secret file")
        }
        if bytes.last == 0x0A { bytes.removeLast() }
        if bytes.last == 0x0D { bytes.removeLast() }
        guard bytes.count >= 32 else {
            throw SendAPIError(file: path, "the JWT secret is \(bytes.count) octets; HS256 needs at least 32")
        }
        self.init(secret: bytes, clockSkew: clockSkew)
    }

    /// The credential `token` carries: its subject may send as itself.
    /// - Throws: ``Failure`` when the token is malformed, not `HS256`, wrongly signed,
    ///   expired, not yet valid, or has no usable `sub`.
    public func verify(_ token: String, now: Date) throws(Failure) -> SendCredential {
        let segments = token.split(separator: ".", omittingEmptySubsequences: false)
        guard segments.count == 3 else { throw Failure("a JWT has three dot-separated parts") }
        guard let headerBytes = Self.base64URLDecode(segments[0]), let payloadBytes = Self.base64URLDecode(segments[1]),
            let signature = Self.base64URLDecode(segments[2])
        else { throw Failure("a part of the token is not base64url") }
        guard let header = try? JSONDecoder().decode(Header.self, from: Data(headerBytes)) else {
            throw Failure("the token header is not a JSON object with an alg")
        }
        guard header.alg == "HS256" else { throw Failure("the token's algorithm must be HS256") }
        if header.crit != nil { throw Failure("the token names critical header parameters this server does not support") }
        let signingInput = Array(token.utf8.prefix(segments[0].utf8.count + 1 + segments[1].utf8.count))
        guard Digest.constantTimeEquals(Digest.hmacSHA256(signingInput, key: secret), signature) else {
            throw Failure("the token's signature is not valid")
        }
        let claims: Claims
        do {
            claims = try JSONDecoder().decode(Claims.self, from: Data(payloadBytes))
        } catch {
            throw Failure("the token's claims are not a JSON object with numeric exp, nbf and iat and a string sub")
        }
        let skew = clockSkew.timeInterval
        let time = now.timeIntervalSince1970
        guard let expiry = claims.exp else { throw Failure("the token has no exp claim") }
        guard time < expiry + skew else { throw Failure("the token has expired") }
        if let notBefore = claims.nbf, time < notBefore - skew { throw Failure("the token is not valid yet (nbf)") }
        if let issued = claims.iat, issued > time + skew { throw Failure("the token was issued in the future (iat)") }
        guard let subject = claims.sub, DeliveryAddress.isValid(subject) else {
            throw Failure("the token's sub claim must be the sender's address")
        }
        return SendCredential(name: "jwt:\(subject.lowercased())", owner: subject, allowedSenders: [subject])
    }

    /// The JOSE header fields that matter here (RFC 7515 §4.1).
    private struct Header: Decodable {
        var alg: String
        var crit: [String]?
    }

    /// The registered claims that matter here (RFC 7519 §4.1); NumericDates are JSON numbers.
    private struct Claims: Decodable {
        var sub: String?
        var exp: Double?
        var nbf: Double?
        var iat: Double?
    }

    /// base64url without padding (RFC 7515 §2), in its one canonical spelling; `nil` for
    /// anything else. Canonical only: the unused low bits of the last character must be zero,
    /// so one token has one spelling (a changed character never leaves it valid).
    static func base64URLDecode(_ text: Substring) -> [UInt8]? {
        guard text.utf8.allSatisfy({ byte in
            (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte) || (0x30...0x39).contains(byte) || byte == 0x2D || byte == 0x5F
        }) else { return nil }
        var base64 = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        let padding = (4 - base64.utf8.count % 4) % 4
        base64 += String(repeating: "=", count: padding)
        guard let data = Data(base64Encoded: base64), data.base64EncodedString() == base64 else { return nil }
        return Array(data)
    }
}
