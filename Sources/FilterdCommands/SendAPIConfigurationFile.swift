import FilterCore
import FilterSMTP
import FilterWeb

/// The `send_api:` section of the server configuration file: the HTTP send API
/// (docs/send-api.md). Every key is optional; the API is off unless `enabled: true`.
struct SendAPIConfigurationFile: Codable {
    var enabled: Bool?
    var keysFile: String?
    var jwtSecretFile: String?
    var nextHop: String?
    var messageIDDomain: String?
    var maxBodyBytes: Int?
    var rateLimit: Int?
    var burst: Int?

    enum CodingKeys: String, CodingKey, CaseIterable {
        case enabled, burst
        case keysFile = "keys_file", jwtSecretFile = "jwt_secret_file", nextHop = "next_hop"
        case messageIDDomain = "message_id_domain", maxBodyBytes = "max_body_bytes", rateLimit = "rate_limit"
    }

    /// The API's configuration, or `nil` when it is not enabled.
    /// - Parameter hostname: the server's host name: the default `Message-ID` domain and the
    ///   `EHLO` name.
    /// - Throws: ``ConfigurationError`` naming the key of a bad value.
    func makeConfiguration(hostname: String) throws -> SendAPIConfiguration? {
        guard enabled == true else { return nil }
        let section = ["send_api"]
        var configuration = SendAPIConfiguration(hostname: hostname)
        configuration.keysFile = keysFile
        configuration.jwtSecretFile = jwtSecretFile
        guard keysFile != nil || jwtSecretFile != nil else {
            throw ConfigurationError(key: section, "the send API is enabled but neither keys_file nor jwt_secret_file says who may send")
        }
        if let nextHop {
            let (host, port) = try ServerConfigurationFile.hostAndPort(nextHop, key: section + ["next_hop"])
            configuration.submission.host = host
            configuration.submission.port = port
        }
        if let messageIDDomain {
            guard DeliveryAddress.isValid("postmaster@\(messageIDDomain)") else {
                throw ConfigurationError(key: section + ["message_id_domain"], "\(messageIDDomain) is not a domain name")
            }
            configuration.messageIDDomain = messageIDDomain
        }
        if let value = maxBodyBytes { configuration.maximumBodyBytes = try ServerConfigurationFile.positive(value, section + ["max_body_bytes"]) }
        if let value = rateLimit { configuration.rateLimit.perMinute = try ServerConfigurationFile.positive(value, section + ["rate_limit"]) }
        if let value = burst { configuration.rateLimit.burst = try ServerConfigurationFile.positive(value, section + ["burst"]) }
        return configuration
    }
}
