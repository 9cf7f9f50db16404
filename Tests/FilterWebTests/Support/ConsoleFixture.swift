import FilterCore
import FilterEngine
import FilterQuarantine
import FilterSMTP
import Foundation
import Logging
import Testing

@testable import FilterWeb

/// A server that is not running (its spool, quarantine and message log are real, in a fresh
/// directory) and the console over it, for page tests: rows and quarantine entries are put in
/// directly.
struct ConsoleFixture {
    let directory: String
    let server: FilterServer
    let messageLog: MessageLog
    let logger = Logger(label: "test.console") { _ in SwiftLogNoOpLogHandler() }

    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("filterd-console-\(UUID())").path
        var configuration = FilterServerConfiguration(hostname: "filter.test")
        configuration.smtp.port = 0
        configuration.spoolDirectory = directory
        server = try FilterServer(configuration: configuration, logger: logger)
        messageLog = try MessageLog(
            configuration: MessageLogConfiguration(path: directory + "/messages.sqlite"), server: configuration, logger: logger)
    }

    /// Removes the directory.
    func remove() {
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// The console feature behind the test identity middleware.
    func features(_ configuration: ConsoleConfiguration = .init()) -> [any WebFeature] {
        [TestIdentity(), ConsoleFeature(server: server, messageLog: messageLog, configuration: configuration, logger: logger)]
    }

    /// Records a row; returns it with its sequence.
    @discardableResult
    func record(
        queueID: String, recipient: String, owner: String? = nil, sender: String = "sender@example.test",
        subject: String? = "Hello", action: FilterAction = .pass, state: String = "delivered", finishedAt: Date = Date(),
        processors: [FilterReply.ProcessorTrace] = [], score: Double? = nil, tags: [String] = [], reason: String? = nil
    ) async throws -> MessageLogRow {
        let row = MessageLogRow(
            eventID: "\(queueID).\(recipient)", queueID: queueID, receivedAt: finishedAt.addingTimeInterval(-1),
            finishedAt: finishedAt, sender: sender, recipient: recipient, owner: owner ?? recipient, subject: subject,
            action: action, source: "client", state: state, reason: reason, detail: "250 2.0.0 Ok", score: score, tags: tags,
            processors: processors)
        return try #require(try await messageLog.insert(row))
    }

    /// Quarantines `message` for `recipient` (its own owner).
    @discardableResult
    func quarantine(id: String, recipient: String, message: String) async throws -> QuarantineEntry {
        let store = try #require(server.quarantine)
        return try await store.add(
            id: id, envelope: Envelope(mailFrom: "sender@example.test", recipients: [EnvelopeRecipient(address: recipient)]),
            queueID: "Q\(id)", owner: recipient, action: .quarantine, reason: "looks bad", receivedAt: Date(),
            message: Array(message.utf8), verdict: QuarantineVerdict(source: "client", score: 9, tags: ["bad"]))
    }
}
