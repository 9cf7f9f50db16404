import ArgumentParser
import FilterQueue
import Foundation

/// How every broker command reaches the RabbitMQ management API (docs/broker.md).
struct BrokerOptions: ParsableArguments {
    /// The environment variable that may hold the management password.
    static let passwordVariable = "FILTERCTL_MANAGEMENT_PASSWORD"

    @Option(
        name: .long,
        help: ArgumentHelp(
            "An administrator's AMQP URL: its path names the virtual host (%2F for /); "
                + "its host and user are the management API's defaults.",
            valueName: "url"))
    var amqp: String?

    @Option(
        name: .long,
        help: ArgumentHelp(
            "The management API, http://USER[:PASSWORD]@HOST:PORT (default: http://<AMQP host>:15672).",
            valueName: "url"))
    var management: String?

    @Option(
        name: .customLong("management-password-file"),
        help: ArgumentHelp(
            "A file holding the management password (used when the URLs carry none; before $\(BrokerOptions.passwordVariable)).",
            valueName: "file"))
    var managementPasswordFile: String?

    /// The administrator for the given URLs; the password comes from the URL, the file or the environment.
    func administrator() throws -> BrokerAdministrator {
        let password = try managementPasswordFile.map(readSecret) ?? ProcessInfo.processInfo.environment[Self.passwordVariable]
        let target = try ManagementTarget(amqpURL: amqp, managementURL: management, password: password)
        return BrokerAdministrator(client: ManagementClient(endpoint: target.endpoint), virtualHost: target.virtualHost)
    }
}

/// `filterctl setup`.
struct SetupCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "setup",
        abstract: "Declare the exchanges and a server's reply queue, create the server's broker user, warn about impersonators."
    )

    @OptionGroup var broker: BrokerOptions

    @Option(name: .customLong("server-id"), help: "The server's id (its reply queue is mailfilter.server.<id>).")
    var serverID: String

    @Option(name: .customLong("server-user"), help: "The server's broker user (default: filterd-<server id>).")
    var serverUser: String?

    @Option(name: .customLong("server-password-file"), help: "A file holding the server user's password ('-': standard input).")
    var serverPasswordFile: String?

    @Flag(name: .customLong("external-authentication"), help: "Create the server user without a password (LDAP logs it in).")
    var externalAuthentication = false

    func validate() throws {
        guard (serverPasswordFile != nil) != externalAuthentication else {
            throw ValidationError("give either --server-password-file or --external-authentication")
        }
    }

    func run() async throws {
        let user = serverUser ?? "filterd-\(serverID)"
        let report = try await broker.administrator().setup(
            serverID: serverID, serverUser: user, serverPassword: try serverPasswordFile.map(readSecret))
        print(
            "exchanges \(Topology.requestExchange), \(Topology.replyExchange) (direct), "
                + "\(Topology.eventExchange) (topic): declared")
        print("reply queue \(report.replyQueue): declared, bound to \(Topology.replyExchange) with key \(serverID)")
        print("server user \(user): " + describe(report.serverPermissions))
        for warning in report.warnings {
            printError("warning: \(warning)")
        }
    }
}

/// `filterctl user add|remove|list`.
struct UserCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "user",
        abstract: "Add, remove and list the broker users of owners (one per filtered address).",
        subcommands: [Add.self, Remove.self, List.self]
    )

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create an owner's broker user, queues, policies, bindings, limits and permissions (idempotent).")
        @OptionGroup var broker: BrokerOptions
        @Argument(help: "The owner address (lowercased).") var address: String

        @Option(name: .customLong("password-file"), help: "A file holding the user's password ('-': standard input).")
        var passwordFile: String?

        @Flag(name: .customLong("external-authentication"), help: "Create the user without a password (LDAP logs it in).")
        var externalAuthentication = false

        @Option(name: .customLong("max-queue-bytes"), help: "The request queue's max-length-bytes, in bytes.")
        var maxQueueBytes: Int = QueueLimits.requestQueueDefault.maxLengthBytes

        @Option(name: .customLong("message-ttl"), help: "How long a request may wait in the queue, in seconds.")
        var messageTTL: Int = QueueLimits.requestQueueDefault.messageTTLMilliseconds / 1000

        @Option(name: .customLong("max-connections"), help: "The user's connection limit (connections).")
        var maxConnections: Int = UserLimits().maxConnections

        @Option(name: .customLong("max-channels"), help: "The user's channel limit, over all its connections (channels).")
        var maxChannels: Int = UserLimits().maxChannels

        func validate() throws {
            guard (passwordFile != nil) != externalAuthentication else {
                throw ValidationError("give either --password-file or --external-authentication")
            }
            guard maxQueueBytes > 0, messageTTL > 0, maxConnections > 0, maxChannels > 0 else {
                throw ValidationError("limits must be positive")
            }
        }

        func run() async throws {
            var limits = UserLimits(maxConnections: maxConnections, maxChannels: maxChannels)
            limits.requestQueue.maxLengthBytes = maxQueueBytes
            limits.requestQueue.messageTTLMilliseconds = messageTTL * 1000
            let setup = try await broker.administrator().addUser(
                owner: address, password: try passwordFile.map(readSecret), limits: limits)
            print("user \(setup.owner): queues \(setup.requestQueue), \(setup.eventQueue); " + describe(setup.permissions))
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove an owner's broker user, queues and policies.")
        @OptionGroup var broker: BrokerOptions
        @Argument(help: "The owner address.") var address: String

        func run() async throws {
            let owner = BrokerAdministrator.canonicalOwner(address)
            let found = try await broker.administrator().removeUser(owner: owner)
            print(found ? "user \(owner): removed" : "user \(owner): nothing to remove")
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "One line per owner: address, broker user, waiting requests, consumers, waiting events.")
        @OptionGroup var broker: BrokerOptions

        func run() async throws {
            let users = try await broker.administrator().listUsers()
            for user in users {
                print(
                    "\(user.owner) user=\(user.hasBrokerUser ? "yes" : "missing") messages=\(user.messages) "
                        + "consumers=\(user.consumers) events=\(user.eventMessages.map(String.init) ?? "missing")")
            }
            print("\(users.count) user(s)")
        }
    }
}

private func describe(_ permissions: BrokerPermissions) -> String {
    "configure \(permissions.configure)  write \(permissions.write)  read \(permissions.read)"
}

/// Reads a password from a file (`-`: standard input), without its trailing line break.
private func readSecret(_ path: String) throws -> String {
    let data: Data
    if path == "-" {
        data = FileHandle.standardInput.readDataToEndOfFile()
    } else {
        guard let contents = FileManager.default.contents(atPath: path) else {
            throw ValidationError("cannot read the password file \(path)")
        }
        data = contents
    }
    var text = String(decoding: data, as: UTF8.self)
    while text.hasSuffix("\n") || text.hasSuffix("\r") { text.removeLast() }
    guard !text.isEmpty else { throw ValidationError("the password file \(path) is empty") }
    return text
}

private func printError(_ line: String) {
    FileHandle.standardError.write(Data((line + "\n").utf8))
}
