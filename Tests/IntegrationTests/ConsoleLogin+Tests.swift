import FilterQueue
import FilterWeb
import Foundation
import Logging
import Testing

/// The console's credential sources against the real things: the broker login (an AMQP login
/// to the shared RabbitMQ node, as a user `filterctl user add` made) and `filterctl web
/// hash-password` producing hashes the password files accept.
@Suite("Console login against RabbitMQ and filterctl", .enabled(if: Repository.integrationEnabled), .serialized)
struct ConsoleLoginTests {
    static let logger = Logger(label: "filter.console-login.test") { _ in SwiftLogNoOpLogHandler() }

    @Test("a broker user logs in as role user with the right password, not with a wrong one", .timeLimit(.minutes(5)))
    func brokerLogin() async throws {
        try await BrokerFixture.withFixture { fixture in
            let alice = try await fixture.addOwner("alice")
            let broker = try AMQPURL(fixture.broker.amqpURL(user: "ignored"))
            let check = BrokerCredentialCheck(broker: broker)
            #expect(try await check.verify(user: alice.user, password: alice.password))
            #expect(try await !check.verify(user: alice.user, password: alice.password + "x"))
            #expect(try await !check.verify(user: fixture.owner("nobody"), password: alice.password))

            let authentication = ConsoleAuthentication(
                configuration: ConsoleAuthConfiguration(brokerLogin: broker), logger: Self.logger)
            let identity = try await authentication.authenticate(username: alice.user, password: alice.password)
            #expect(identity == WebIdentity(name: alice.user, role: .user, owner: alice.user))
            #expect(try await authentication.authenticate(username: alice.user, password: "wrong") == nil)
            // filterd's own broker user is a broker login but no mail user.
            #expect(try await authentication.authenticate(username: fixture.server.user, password: fixture.server.password) == nil)
        }
    }

    @Test("filterctl web hash-password reads standard input and prints a hash the password file accepts")
    func hashPassword() async throws {
        let result = try await ProcessRunner.run(
            try BuiltProducts.path("filterctl"), ["web", "hash-password", "--iterations", "2000"],
            standardInput: Data("s3cret pass\n".utf8)
        ).requireSuccess()
        let line = result.standardOutput.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(line.hasPrefix("pbkdf2-sha256$2000$"))
        let file = try PasswordFile(parsing: "admin:\(line)\n", path: "admins")
        let entry = try #require(file.entry(for: "admin"))
        #expect(entry.hash.matches("s3cret pass"))
        #expect(!entry.hash.matches("s3cret pass\n"))

        let empty = try await ProcessRunner.run(
            try BuiltProducts.path("filterctl"), ["web", "hash-password"], standardInput: Data())
        #expect(empty.exitStatus != 0)
        #expect(empty.standardError.contains("no password"))
    }
}
