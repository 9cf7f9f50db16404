import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A RabbitMQ node of its own for the TLS tests, with RabbitMQ's TLS listener: node
/// `filterd-tls` under `test-artifacts/rabbitmq-tls` (`FILTER_RABBITMQ_TLS_DIR`), AMQPS on
/// 127.0.0.1:15711 (`FILTER_RABBITMQ_TLS_PORT`), AMQP, management and Erlang distribution on
/// the next three ports. `scripts/rabbitmq-instance.sh tls` makes its CA and a certificate for
/// `localhost` alone (no IP address: connecting to 127.0.0.1 is a host-name mismatch).
///
/// Started once per test process, lazily, and stopped when the process ends (the script's
/// `FILTER_RABBITMQ_STOP_WITH`), so that suites of other modules using the node at the same
/// time (the end-to-end TLS test) keep it until the last is done. Nobody else uses it: it is
/// not the shared node.
enum TLSTestBroker {
    /// Where the node keeps its data, logs, certificates and administrator password.
    static let directory: URL = ProcessInfo.processInfo.environment["FILTER_RABBITMQ_TLS_DIR"]
        .map { URL(fileURLWithPath: $0) } ?? TestBroker.repositoryRoot.appendingPathComponent("test-artifacts/rabbitmq-tls")

    /// The AMQPS port (`FILTER_RABBITMQ_TLS_PORT`, default 15711).
    static let amqpsPort: Int = Int(ProcessInfo.processInfo.environment["FILTER_RABBITMQ_TLS_PORT"] ?? "") ?? 15711

    /// The CA that signed the node's certificate.
    static var caFile: String { directory.appendingPathComponent("tls/ca.pem").path }

    /// Starts the node if it is not running yet and returns the administrator's password.
    static func start() async throws -> String {
        try await started.value
    }

    /// The script's settings for this node, overriding any of the shared node's.
    static var environment: [String: String] {
        [
            "FILTER_RABBITMQ_NODENAME": "filterd-tls",
            "FILTER_RABBITMQ_TLS_PORT": String(amqpsPort),
            "FILTER_RABBITMQ_PORT": String(amqpsPort + 1),
            "FILTER_RABBITMQ_MANAGEMENT_PORT": String(amqpsPort + 2),
            "FILTER_RABBITMQ_DIST_PORT": String(amqpsPort + 3),
            "FILTER_RABBITMQ_STOP_WITH": String(getpid()),
        ]
    }

    /// Runs `rabbitmqctl` against the node with `arguments` and returns what it printed.
    @discardableResult
    static func ctl(_ arguments: [String]) throws -> String {
        try TestBroker.runScript(["ctl", directory.path] + arguments, environment: environment)
    }

    private static let started = Task<String, any Error> {
        try TestBroker.runScript(["tls", directory.path], environment: environment)
        try TestBroker.runScript(["start", directory.path], environment: environment)
        return try String(contentsOf: directory.appendingPathComponent("admin-password"), encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
