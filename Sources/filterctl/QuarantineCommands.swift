import ArgumentParser
import FilterCore
import FilterEngine
import FilterQuarantine
import Foundation

/// Options every quarantine command takes.
struct QuarantineOptions: ParsableArguments {
    @OptionGroup var spool: SpoolOptions

    @Option(name: .long, help: "The quarantine directory read when no server runs (default: the configuration file's, else quarantine in the spool directory).")
    var quarantine: String?

    /// The store's directory: `--quarantine`, else the configuration file's, else in the spool.
    func directory() throws -> String {
        if let quarantine { return quarantine }
        let spoolDirectory = try spool.spoolDirectory()
        return try spool.serverConfiguration()?.quarantine.resolvedDirectory(spoolDirectory: spoolDirectory)
            ?? spoolDirectory + "/quarantine"
    }

    /// Sends a request to the running server; `nil` when no server answers.
    func sendToServer(_ request: ControlRequest) async throws -> ControlResponse? {
        do {
            return try await ControlClient.send(request, to: try spool.controlPath())
        } catch let error as ControlError where error.serverUnavailable {
            return nil
        }
    }

    /// The store opened read-only, for when no server runs.
    func openReadOnly() throws -> QuarantineStore {
        try QuarantineStore(directory: try directory(), readOnly: true)
    }
}

struct QuarantineCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "quarantine",
        abstract: "List, show, release and delete quarantined messages.",
        subcommands: [List.self, Show.self, Release.self, Delete.self]
    )

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "One line per entry: id, time quarantined, action, sender, recipient, size, reason.")
        @OptionGroup var options: QuarantineOptions
        @Option(name: .long, help: "Only entries for this recipient (or owner) address.") var recipient: String?
        @Option(name: .long, help: "Only entries quarantined since T: 2026-11-25, 2026-11-25T08:00:00Z, or an age such as 24h or 7d.")
        var since: String?
        @Option(name: .long, help: "At most this many entries.") var limit: Int?

        func run() async throws {
            var sinceDate: Date?
            if let since {
                guard let date = QuarantineTime.parse(since, now: Date()) else {
                    throw ValidationError("--since \(since): give an ISO 8601 date or time (2026-11-25, 2026-11-25T08:00:00Z) or an age (30m, 24h, 7d)")
                }
                sinceDate = date
            }
            let entries: [QuarantineEntry]
            let request = ControlRequest(command: .quarantineList, recipient: recipient, since: sinceDate, limit: limit)
            if let response = try await options.sendToServer(request) {
                guard response.ok else { throw failure(response.message) }
                entries = response.quarantineEntries ?? []
            } else {
                entries = try await options.openReadOnly().list(recipient: recipient, since: sinceDate, limit: limit)
            }
            for entry in entries {
                print(QuarantineReport.summaryLine(entry))
            }
            print("\(entries.count) entr\(entries.count == 1 ? "y" : "ies") in the quarantine")
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Metadata and message headers of one entry.")
        @OptionGroup var options: QuarantineOptions
        @Argument(help: "The entry id (first word of `list`).") var id: String

        func run() async throws {
            if let response = try await options.sendToServer(ControlRequest(command: .quarantineShow, quarantineID: id)) {
                guard response.ok, let entry = response.quarantineEntries?.first else { throw failure(response.message) }
                print(QuarantineReport.details(entry, headers: response.headers ?? ""))
                return
            }
            let store = try options.openReadOnly()
            guard let entry = try await store.entry(id) else { throw failure("\(id): no such entry in the quarantine") }
            print(QuarantineReport.details(entry, headers: try await store.headerSection(id)))
        }
    }

    struct Release: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Deliver a quarantined message to its recipient through the running server, then delete it.")
        @OptionGroup var options: QuarantineOptions
        @Argument(help: "The entry id.") var id: String

        func run() async throws {
            try await changeThroughServer(ControlRequest(command: .quarantineRelease, quarantineID: id), options: options)
        }
    }

    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Delete a quarantined message without delivering it (through the running server).")
        @OptionGroup var options: QuarantineOptions
        @Argument(help: "The entry id.") var id: String

        func run() async throws {
            try await changeThroughServer(ControlRequest(command: .quarantineDelete, quarantineID: id), options: options)
        }
    }
}

/// Sends a change to the running server: releases and deletions are never done on the files
/// directly, because a release reinjects through the server's spool and delivery.
private func changeThroughServer(_ request: ControlRequest, options: QuarantineOptions) async throws {
    guard let response = try await options.sendToServer(request) else {
        throw failure(
            "no filterd server answers on \((try? options.spool.controlPath()) ?? "the control socket"): \(request.command == .quarantineRelease ? "release" : "delete") "
                + "goes through the running server (start filterd server, then try again)")
    }
    guard response.ok else { throw failure(response.message) }
    print(response.message)
}

/// A failure `filterctl` prints (`Error: ...`) before exiting with status 1.
private struct QuarantineCommandError: Error, CustomStringConvertible {
    var description: String
}

private func failure(_ message: String) -> QuarantineCommandError {
    QuarantineCommandError(description: message)
}
