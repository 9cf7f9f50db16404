import ArgumentParser
import FilterCore
import FilterEngine
import FilterdCommands
import Foundation

@main
struct Filterctl: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "filterctl",
        abstract: "Operate the Email Content Filter: its spool, its quarantine, its broker and its users; inspect messages.",
        subcommands: [
            SpoolCommand.self, QuarantineCommand.self, SetupCommand.self, UserCommand.self, InspectCommand.self, WebCommand.self,
        ]
    )
}

/// Options every spool and quarantine command takes: where the server keeps its files.
struct SpoolOptions: ParsableArguments {
    @Option(name: .long, help: "The server's configuration file; its spool, control socket and quarantine are used.")
    var config: String?

    @Option(name: .long, help: "The server's spool directory (default: the configuration file's, else /var/spool/filterd).")
    var spool: String?

    @Option(name: .long, help: "The control socket (default: the configuration file's, else control.sock in the spool directory).")
    var control: String?

    /// The server's configuration, when `--config` names it.
    func serverConfiguration() throws -> FilterServerConfiguration? {
        try config.map(ServerConfigurationFiles.load)
    }

    /// The spool directory: `--spool`, else the configuration file's, else the default.
    func spoolDirectory() throws -> String {
        try spool ?? serverConfiguration()?.spoolDirectory ?? "/var/spool/filterd"
    }

    /// The control socket: `--control`, else the configuration file's (unless `--spool` moves
    /// the spool), else `control.sock` in the spool directory.
    func controlPath() throws -> String {
        if let control { return control }
        if spool == nil, let configuration = try serverConfiguration() { return configuration.resolvedControlSocketPath }
        return try spoolDirectory() + "/control.sock"
    }

    func openSpool() throws -> SpoolInspector {
        try SpoolInspector(directory: spoolDirectory())
    }
}

struct SpoolCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "spool",
        abstract: "List, show, retry and delete spooled messages.",
        subcommands: [List.self, Show.self, Retry.self, Delete.self]
    )

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "One line per message: queue id, age, sender, recipients and their states.")
        @OptionGroup var options: SpoolOptions

        func run() async throws {
            let entries = try options.openSpool().entries()
            for entry in entries {
                print(SpoolInspector.summaryLine(entry, now: Date()))
            }
            print("\(entries.count) message(s) in the spool")
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Envelope, recipient states and headers of one message.")
        @OptionGroup var options: SpoolOptions
        @Argument(help: "The queue id.") var id: String

        func run() async throws {
            let inspector = try options.openSpool()
            print(try inspector.details(of: try queueID(id)))
        }
    }

    struct Retry: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Deliver a message (or every deferred one) now.")
        @OptionGroup var options: SpoolOptions
        @Argument(help: "The queue id.") var id: String?
        @Flag(name: .long, help: "Retry every deferred message.") var all = false

        func validate() throws {
            guard (id != nil) != all else { throw ValidationError("give either a queue id or --all") }
        }

        func run() async throws {
            let request = all ? ControlRequest(command: .retryAll) : ControlRequest(command: .retry, queueID: try queueID(id!))
            try await perform(request, options: options) { inspector in
                let count = try await inspector.markDue(all ? nil : request.queueID)
                return "no server is running: \(count) message(s) will be delivered as soon as filterd server starts"
            }
        }
    }

    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove a message from the spool without delivering it.")
        @OptionGroup var options: SpoolOptions
        @Argument(help: "The queue id.") var id: String

        func run() async throws {
            let id = try queueID(id)
            try await perform(ControlRequest(command: .delete, queueID: id), options: options) { inspector in
                try await inspector.delete(id)
                return "\(id) deleted (no server was running; the spool files were removed directly)"
            }
        }
    }
}

/// Sends a state-changing request to the running server; with none running, changes the files.
private func perform(
    _ request: ControlRequest, options: SpoolOptions, offline: (SpoolInspector) async throws -> String
) async throws {
    let response: ControlResponse
    do {
        response = try await ControlClient.send(request, to: try options.controlPath())
    } catch let error as ControlError where error.serverUnavailable {
        print(try await offline(try options.openSpool()))
        return
    }
    print(response.message)
    if !response.ok { throw ExitCode.failure }
}

private func queueID(_ text: String) throws -> QueueID {
    guard let id = QueueID(rawValue: text) else { throw ValidationError("\(text) is not a queue id") }
    return id
}

struct InspectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "Print the MIME view of a message file as JSON: what a processor sees.",
        discussion: """
            Decoded headers, parsed address fields, the part tree (content type, charset, transfer \
            encoding, file name, decoded size of each part), the text and HTML bodies, attachments \
            and defects. See docs/mime.md.
            """
    )

    @Argument(help: "The message file (RFC 5322, CRLF or LF line ends); - reads standard input.")
    var file: String

    func run() throws {
        let data: Data
        if file == "-" {
            data = FileHandle.standardInput.readDataToEndOfFile()
        } else {
            guard let contents = FileManager.default.contents(atPath: file) else {
                FileHandle.standardError.write(Data("filterctl inspect: cannot read \(file)\n".utf8))
                throw ExitCode.failure
            }
            data = contents
        }
        print(MIMEInspection(MIMEMessage(bytes: Array(data))).json())
    }
}
