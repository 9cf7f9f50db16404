import Foundation

/// Runs `scripts/bench/loadgen.py`: parallel SMTP sessions, each message with a unique
/// Message-ID and an end marker line (`-- end of <Message-ID>`), recording the Message-ID of
/// every message that got a 250 to a file as it happens. Connection failures do not use up
/// attempts, so the load survives a server that is killed and restarted. The generator is
/// killed when this object is released.
final class LoadGenerator: Sendable {
    /// What the generator printed when it finished.
    struct Summary: Decodable, Sendable {
        /// Messages for which a transaction was started.
        let attempts: Int
        /// Messages that got a 250 to the end of DATA.
        let accepted: Int
        /// Messages refused with 4xx or 5xx.
        let refused: Int
        /// Messages whose transaction broke off (connection lost, timeout).
        let errors: Int
        /// Connection attempts that failed (server down).
        let connectFailures: Int
        /// Wall-clock duration of the run.
        let seconds: Double
    }

    /// The file the generator appends accepted Message-IDs to, one per line.
    let acceptedFile: URL

    private let process: RunningProcess

    /// Starts the generator.
    /// - Parameters:
    ///   - port: The SMTP server on 127.0.0.1.
    ///   - attempts: Messages to try in total.
    ///   - connections: Parallel sessions.
    ///   - messageSize: Approximate body size in bytes.
    ///   - timeLimit: When the generator stops trying even if attempts are left.
    /// - Throws: `HarnessError` if python3 is missing or the directory cannot be created.
    init(port: UInt16, attempts: Int, connections: Int, messageSize: Int, timeLimit: Duration) throws {
        let directory = try Repository.makeTemporaryDirectory(prefix: "filterd-load")
        acceptedFile = directory.appendingPathComponent("accepted")
        process = try RunningProcess(
            executable: "python3",
            arguments: [
                Repository.scripts.appendingPathComponent("bench/loadgen.py").path,
                "--port", String(port),
                "--count", String(attempts),
                "--connections", String(connections),
                "--size", String(messageSize),
                "--accepted", acceptedFile.path,
                "--time-limit", String(timeLimit.components.seconds),
            ]
        )
    }

    deinit {
        if !Repository.keepArtifacts {
            try? FileManager.default.removeItem(at: acceptedFile.deletingLastPathComponent())
        }
    }

    /// The Message-IDs accepted so far, in the order the replies arrived.
    func acceptedMessageIDs() -> [String] {
        guard let data = FileManager.default.contents(atPath: acceptedFile.path) else { return [] }
        return String(decoding: data, as: UTF8.self).split(separator: "\n").map(String.init)
    }

    /// Waits until at least `count` messages have been accepted.
    /// - Parameters:
    ///   - count: How many.
    ///   - timeout: How long to wait.
    /// - Returns: How many had been accepted when the wait ended.
    /// - Throws: `HarnessError.Code.timedOut`, also when the generator ends first.
    @discardableResult
    func waitForAccepted(atLeast count: Int, timeout: Duration) async throws -> Int {
        let deadline = ContinuousClock.now + timeout
        while true {
            let accepted = acceptedMessageIDs().count
            if accepted >= count {
                return accepted
            }
            guard ContinuousClock.now < deadline, process.isRunning else {
                throw HarnessError(
                    code: .timedOut,
                    message: "load generator: \(accepted) of \(count) messages accepted "
                        + "(running: \(process.isRunning)); stderr:\n\(process.standardError)"
                )
            }
            try await Task.sleep(for: .milliseconds(10))
        }
    }

    /// Waits for the generator to finish and returns its summary.
    /// - Parameter timeout: How long to wait before killing it.
    /// - Throws: `HarnessError` if it fails, hangs or prints no summary.
    func waitForSummary(timeout: Duration) async throws -> Summary {
        let result = try await process.waitForExit(timeout: timeout).requireSuccess()
        guard let line = result.standardOutput.split(separator: "\n").last else {
            throw HarnessError(code: .processFailed, message: "load generator printed no summary; stderr:\n\(result.standardError)")
        }
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return try decoder.decode(Summary.self, from: Data(line.utf8))
    }
}
