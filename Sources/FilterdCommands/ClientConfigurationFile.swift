import FilterCore
import FilterEngine
import FilterProcessors
import Foundation
import Logging
import Yams

/// One client pipeline as configured in YAML: in `filterd client --config FILE` at the top
/// level, in `filterd all-in-one` as an entry of `clients:`. Keys in docs/configuration.md.
struct ClientSection: Decodable {
    var address: String?
    var prefetch: Int?
    var fallbackAction: String?
    var pipeline: PipelineConfiguration?

    enum CodingKeys: String, CodingKey, CaseIterable {
        case address, prefetch, pipeline
        case fallbackAction = "fallback_action"
    }

    /// The client's settings; the owner is the canonical form of `address`.
    func makeConfiguration(owners: OwnerResolver, key: String) throws -> (FilterClientConfiguration, Pipeline) {
        guard let address, address.contains("@") else {
            throw ConfigurationError("\(key).address: the owner's address is missing (for example alice@example.com)")
        }
        var configuration = FilterClientConfiguration(owner: owners.owner(of: address))
        if let prefetch {
            guard prefetch >= 1 else { throw ConfigurationError("\(key).prefetch: must be at least 1, got \(prefetch)") }
            configuration.prefetch = prefetch
        }
        if let fallbackAction {
            let action = FilterAction(rawValue: fallbackAction.lowercased())
            guard FilterAction.allKnown.contains(action) else {
                throw ConfigurationError("\(key).fallback_action: unknown action \(fallbackAction)")
            }
            configuration.fallbackAction = action
        }
        return (configuration, (pipeline ?? PipelineConfiguration()).makePipeline())
    }
}

/// The `monitor:` section of `filterd client`'s file: the client monitor and its `/metrics`
/// (docs/monitor.md). Off unless `listen` (or `--monitor`) is given.
struct MonitorSection: Decodable {
    /// Where the monitor listens, HOST:PORT.
    var listen: String?
    /// A file whose first line is the bearer token `/metrics` requires; none by default.
    var metricsTokenFile: String?
    /// How many recent decisions the page shows (default 100).
    var recent: Int?

    enum CodingKeys: String, CodingKey, CaseIterable {
        case listen, recent
        case metricsTokenFile = "metrics_token_file"
    }
}

/// The YAML configuration file of `filterd client`.
struct ClientConfigurationFile: Decodable {
    var amqp: String?
    var amqpPasswordFile: String?
    var logLevel: String?
    var monitor: MonitorSection?
    var client: ClientSection

    enum CodingKeys: String, CodingKey, CaseIterable {
        case amqp, monitor
        case amqpPasswordFile = "amqp_password_file"
        case logLevel = "log_level"
    }

    init() {
        client = ClientSection()
    }

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        amqp = try container.decodeIfPresent(String.self, forKey: .amqp)
        amqpPasswordFile = try container.decodeIfPresent(String.self, forKey: .amqpPasswordFile)
        logLevel = try container.decodeIfPresent(String.self, forKey: .logLevel)
        monitor = try container.decodeIfPresent(MonitorSection.self, forKey: .monitor)
        client = try ClientSection(from: decoder)
    }

    static func load(_ path: String) throws -> ClientConfigurationFile {
        try YAMLFile.decode(ClientConfigurationFile.self, path: path, schema: schema)
    }
}

/// Reading YAML configuration files, with errors that name the file.
enum YAMLFile {
    /// Decodes the file at `path`; a key `schema` does not know is refused as a typo.
    static func decode<Value: Decodable>(_ type: Value.Type, path: String, schema: ConfigurationSchema) throws -> Value {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ConfigurationError("cannot read the configuration file \(path)")
        }
        let yaml = String(decoding: data, as: UTF8.self)
        if let unknown = schema.firstUnknownKey(in: yaml) {
            throw located(unknown, path: path, yaml: yaml)
        }
        do {
            return try YAMLDecoder().decode(type, from: data, userInfo: [.processorRegistry: ProcessorTypes.registry])
        } catch let error as DecodingError {
            // Yams reports errors thrown while decoding (a processor's validation) as corrupted
            // data with the real error underneath.
            if case .dataCorrupted(let context) = error, let pipelineError = context.underlyingError as? ProcessorConfigurationError {
                throw located(ConfigurationError(key: ["pipeline"], pipelineError.description), path: path, yaml: yaml)
            }
            let key = error.codingPath.compactMap { $0.intValue == nil ? $0.stringValue : nil }
            throw located(ConfigurationError(key: key, error.operatorDescription), path: path, yaml: yaml)
        } catch {
            throw ConfigurationError("\(path): \(error)")
        }
    }

    /// `error` with `path` and, when its key is found in `yaml`, the key's line.
    static func located(_ error: ConfigurationError, path: String, yaml: String) -> ConfigurationError {
        var error = error
        error.file = path
        guard let key = error.key, var node = try? Yams.compose(yaml: yaml) else { return error }
        var line = node.mark?.line
        for name in key {
            if let sequence = node.sequence, let index = Int(name), sequence.indices.contains(index) {
                node = sequence[index]
                line = node.mark?.line
                continue
            }
            guard let mapping = node.mapping, let (keyNode, value) = mapping.first(where: { $0.key.string == name }) else { break }
            line = keyNode.mark?.line
            node = value
        }
        error.line = line
        return error
    }

    /// The log level named by `text` (default info).
    static func logLevel(_ text: String?) throws -> Logger.Level {
        guard let text else { return .info }
        guard let level = Logger.Level(rawValue: text.lowercased()) else {
            throw ConfigurationError("log_level: unknown level \(text); use trace, debug, info, notice, warning, error or critical")
        }
        return level
    }
}
