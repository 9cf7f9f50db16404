import Foundation
import Synchronization

/// Sends messages through swaks one after another, until `stop()`: a steady load that lasts
/// as long as the test needs (for example across a broker restart), unlike `LoadGenerator`'s
/// fixed number of messages.
final class PacedMailSender: Sendable {
    private struct State {
        var stopped = false
        var sent: [String] = []
    }

    private let state = Mutex(State())

    /// The Message-IDs of the messages accepted so far.
    var sentMessageIDs: [String] { state.withLock { $0.sent } }

    /// Sends with `Swaks.sendMessage` until `stop()` is called.
    /// - Parameters:
    ///   - port: The SMTP server on 127.0.0.1.
    ///   - from: The envelope sender.
    ///   - to: The envelope recipient.
    /// - Throws: `HarnessError` as soon as a message is not accepted.
    func run(port: UInt16, from: String, to: String) async throws {
        while !state.withLock({ $0.stopped }) {
            let messageID = try await Swaks.sendMessage(port: port, from: from, to: to, subject: "paced")
            state.withLock { $0.sent.append(messageID) }
        }
    }

    /// Makes `run` return after the message it is sending.
    func stop() {
        state.withLock { $0.stopped = true }
    }

    /// Waits until at least `count` messages were accepted.
    /// - Parameters:
    ///   - count: How many.
    ///   - timeout: How long to wait.
    /// - Throws: `HarnessError.Code.timedOut`.
    func waitForSent(atLeast count: Int, timeout: Duration) async throws {
        let deadline = ContinuousClock.now + timeout
        while sentMessageIDs.count < count {
            guard ContinuousClock.now < deadline else {
                throw HarnessError(
                    code: .timedOut, message: "only \(sentMessageIDs.count) of \(count) messages sent in \(timeout)")
            }
            try await Task.sleep(for: .milliseconds(100))
        }
    }
}
