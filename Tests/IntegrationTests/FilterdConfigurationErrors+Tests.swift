import Foundation
import Testing

/// `filterd` refuses a configuration it cannot apply at start-up, naming the file, the line and
/// the key, before it listens or touches a spool.
@Suite("filterd configuration errors", .enabled(if: Repository.integrationEnabled))
struct FilterdConfigurationErrorsTests {
    private func refusal(_ command: String, yaml: String, arguments: [String] = []) async throws -> String {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("filterd-config-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("filterd.yaml")
        let spool = directory.appendingPathComponent("spool").path
        try yaml.replacingOccurrences(of: "SPOOL", with: spool).write(to: file, atomically: true, encoding: .utf8)
        let result = try await ProcessRunner.run(
            try BuiltProducts.path("filterd"), [command, "--config", file.path] + arguments)
        #expect(result.exitStatus != 0)
        #expect(!FileManager.default.fileExists(atPath: spool), "nothing was started")
        return result.standardError.replacingOccurrences(of: file.path, with: "FILE")
    }

    @Test(arguments: [
        ("filtering:\n  deadline: 30\n  actions:\n    deny: bounc\n", "FILE:4: filtering.actions.deny: bounc is not one of discard, bounce"),
        ("filtering:\n  owners:\n    bob@example.com:\n      actions:\n        forward:\n          domains: [\"a b\"]\n",
         "FILE:6: filtering.owners.bob@example.com.actions.forward.domains: a b is not a domain or *.domain"),
        ("filtering:\n  owners:\n    bob@example.com:\n      actions: {retry_after: 5}\n",
         "FILE:4: filtering.owners.bob@example.com.actions.retry_after: is a server-wide setting; set it under filtering.actions"),
        ("filtering:\n  fallback_action: forward\n",
         "FILE:2: filtering.fallback_action: forward is not an action the server applies on its own; use pass, deny, spam or quarantine"),
        ("smtp:\n  max_recipients: many\n", "FILE:2: smtp.max_recipients: expected a whole number"),
        ("quarantine:\n  digest_from: not-an-address\n", "FILE:2: quarantine.digest_from: not-an-address is not a valid address"),
        ("filtering:\n  actions:\n    deny_polcy: bounce\n", "FILE:3: filtering.actions.deny_polcy: unknown key; known here: delay_notice_after, deny, "),
        ("filtering:\n  owners:\n    bob@example.com:\n      dedline: 5\n", "FILE:4: filtering.owners.bob@example.com.dedline: unknown key"),
        ("clients:\n  - address: a@example.com\n    prefech: 3\n", "FILE:3: clients.0.prefech: unknown key; known here: address, fallback_action, pipeline, prefetch"),
        ("smpt:\n  max_recipients: 5\n", "FILE:1: smpt: unknown key; known here: amqp, amqp_password_file, clients, delivery"),
        ("web:\n  listen: nohost\n", "FILE:2: web.listen: expected HOST:PORT, got nohost"),
        ("web:\n  listn: 127.0.0.1:9025\n", "FILE:2: web.listn: unknown key; known here: admins_file, broker_login, cookie_secure"),
        ("web:\n  cookie_secure: sometimes\n", "FILE:2: web.cookie_secure: sometimes is not one of auto, always, never"),
        ("web:\n  broker_login: true\n", "FILE:2: web.broker_login: needs the server's broker (amqp: or --amqp)"),
        ("web:\n  login_failures_per_user: -1\n", "FILE:2: web.login_failures_per_user: must be 0 (no limit) or more"),
        ("send_api:\n  enabled: true\n  keys_file: /etc/filterd/api-keys\n",
         "FILE:2: send_api.enabled: the send API runs on the web listener: add a web: section or --web"),
        ("web:\n  listen: 127.0.0.1:0\nsend_api:\n  enabled: true\n  keys_file: /etc/filterd/api-keys\n  rate_limit: 0\n",
         "FILE:6: send_api.rate_limit: "),
        ("web:\n  listen: 127.0.0.1:0\nsend_api:\n  enabled: true\n",
         "FILE:3: send_api: the send API is enabled but neither keys_file nor jwt_secret_file says who may send"),
        ("web:\n  metrics_token_file: /nonexistent/filterd-metrics-token\n", "FILE:2: web.metrics_token_file: "),
        ("web:\n  message_log_retention: 0\n", "FILE:2: web.message_log_retention: must be a positive number of seconds"),
    ])
    func theServerNamesFileLineAndKey(yaml: String, expected: String) async throws {
        let message = try await refusal("server", yaml: yaml + "spool: SPOOL\n", arguments: [])
        #expect(message.contains(expected), "\(message)")
    }

    @Test func theDenyPolicyFlagIsChecked() async throws {
        let message = try await refusal("server", yaml: "listen: 127.0.0.1:1\n", arguments: ["--deny-policy", "drop"])
        #expect(message.contains("filtering.actions.deny: drop is not one of discard, bounce"))
    }

    @Test func theWebFlagIsChecked() async throws {
        let message = try await refusal("all-in-one", yaml: "listen: 127.0.0.1:1\nspool: SPOOL\n", arguments: ["--web", "9025"])
        #expect(message.contains("web.listen: expected HOST:PORT, got 9025"), "\(message)")
    }

    @Test func aClientPipelineErrorNamesTheRuleAndTheKey() async throws {
        let yaml = """
            amqp: amqp://alice%40example.com@127.0.0.1:1/%2F
            address: alice@example.com
            pipeline:
              - type: rules
                rules:
                  - name: typo
                    if: {header: Subject, contians: x}
                    then: {tag: t}
            """
        let message = try await refusal("client", yaml: yaml)
        #expect(message.contains(#"FILE:3: pipeline: pipeline entry 1: rule "typo": unknown key contians"#), "\(message)")
    }

    @Test func theClientMonitorSectionIsChecked() async throws {
        let yaml = """
            amqp: amqp://alice%40example.com@127.0.0.1:1/%2F
            address: alice@example.com
            monitor:
              listen: nohost
            """
        let message = try await refusal("client", yaml: yaml)
        #expect(message.contains("monitor.listen: expected HOST:PORT, got nohost"), "\(message)")
        let typo = try await refusal("client", yaml: yaml.replacingOccurrences(of: "listen: nohost", with: "lisen: 127.0.0.1:1"))
        #expect(typo.contains("FILE:4: monitor.lisen: unknown key"), "\(typo)")
    }
}
