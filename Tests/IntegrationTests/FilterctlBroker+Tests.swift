import Foundation
import Testing

/// `filterctl setup` and `filterctl user add|list|remove`, run as the built binary against the
/// private RabbitMQ node (scripts/rabbitmq-instance.sh, shared through FILTER_RABBITMQ_DIR with
/// the FilterQueue tests). Passwords travel only through files and the environment.
@Suite("filterctl broker commands", .enabled(if: Repository.integrationEnabled))
struct FilterctlBrokerTests {
    private static let broker = BrokerNode.shared

    /// Runs filterctl with the broker options, the management password in the environment, and
    /// checks that no secret appears in its arguments or output.
    private static func filterctl(
        _ arguments: [String], adminPassword: String, secrets: [String], environmentPassword: String? = nil
    ) async throws -> ProcessResult {
        let result = try await broker.filterctl(arguments, managementPassword: environmentPassword ?? adminPassword)
        for secret in secrets + [adminPassword] {
            #expect(!result.command.joined(separator: " ").contains(secret), "a password in filterctl's argv")
            #expect(!result.standardOutput.contains(secret), "a password in filterctl's output")
            #expect(!result.standardError.contains(secret), "a password in filterctl's errors")
        }
        return result
    }

    @Test("setup, user add, list and remove end to end, with no password in argv or output")
    func endToEnd() async throws {
        let adminPassword = try await Self.broker.start()
        let suffix = BrokerNode.uniqueSuffix()
        let serverID = "cli-\(suffix)"
        let owner = "j.smith-\(suffix)@example.test"
        let userPassword = "user-\(UUID().uuidString)"
        let serverPassword = "server-\(UUID().uuidString)"
        let directory = try Repository.makeTemporaryDirectory(prefix: "filterctl-broker")
        defer { try? FileManager.default.removeItem(at: directory) }
        let userPasswordFile = directory.appendingPathComponent("user-password")
        let serverPasswordFile = directory.appendingPathComponent("server-password")
        try (userPassword + "\n").write(to: userPasswordFile, atomically: true, encoding: .utf8)
        try (serverPassword + "\n").write(to: serverPasswordFile, atomically: true, encoding: .utf8)
        let secrets = [userPassword, serverPassword]

        let setup = try await Self.filterctl(
            ["setup", "--server-id", serverID, "--server-password-file", serverPasswordFile.path],
            adminPassword: adminPassword, secrets: secrets
        ).requireSuccess()
        #expect(setup.standardOutput.contains("reply queue mailfilter.server.\(serverID): declared"))

        let add = try await Self.filterctl(
            ["user", "add", owner.uppercased(), "--password-file", userPasswordFile.path],
            adminPassword: adminPassword, secrets: secrets
        ).requireSuccess()
        #expect(add.standardOutput.contains(#"read ^mailfilter\.(user|events)\.j\.smith\-\#(suffix)@example\.test$"#))

        // The password from the file (without its line break) logs the owner in.
        let login = try await ProcessRunner.run(
            "/usr/bin/python3",
            [
                "-c",
                """
                import os, pika
                credentials = pika.PlainCredentials(os.environ["OWNER"], os.environ["OWNER_PASSWORD"])
                connection = pika.BlockingConnection(pika.ConnectionParameters("127.0.0.1", \(Self.broker.amqpPort), credentials=credentials))
                print(connection.channel().queue_declare("mailfilter.user." + os.environ["OWNER"], passive=True).method.consumer_count)
                """,
            ],
            environment: ["OWNER": owner, "OWNER_PASSWORD": userPassword]
        ).requireSuccess()
        #expect(login.standardOutput == "0\n")

        let listed = try await Self.filterctl(["user", "list"], adminPassword: adminPassword, secrets: secrets)
            .requireSuccess().standardOutput
        #expect(listed.split(separator: "\n").contains("\(owner) user=yes messages=0 consumers=0 events=0"))

        let refused = try await Self.filterctl(
            ["user", "list"], adminPassword: adminPassword, secrets: secrets + ["not-the-password"],
            environmentPassword: "not-the-password")
        #expect(refused.exitStatus != 0)
        #expect(refused.standardError.contains("HTTP 401"))

        let removed = try await Self.filterctl(
            ["user", "remove", owner], adminPassword: adminPassword, secrets: secrets
        )
        .requireSuccess().standardOutput
        #expect(removed == "user \(owner): removed\n")
        let after = try await Self.filterctl(["user", "list"], adminPassword: adminPassword, secrets: secrets)
            .requireSuccess().standardOutput
        #expect(!after.contains(owner))

        await Self.broker.removeServer(serverID)
    }
}
