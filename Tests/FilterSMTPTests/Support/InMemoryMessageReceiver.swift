import FilterCore
import FilterSMTP
import Logging
import NIOConcurrencyHelpers
import NIOCore

/// A receiver that keeps messages in memory and records what the server did with them.
final class InMemoryMessageReceiver: SMTPMessageReceiver {
    /// A message the server committed.
    struct Committed: Sendable {
        var queueID: QueueID
        var envelope: Envelope
        var content: [UInt8]
    }

    /// Which operations fail, to test the server's answers to spool trouble.
    struct Failures: Sendable {
        var open = false
        /// Appends to one message that succeed before every further one fails; nil: never fail.
        var appendsBeforeFailure: Int?
        var commit = false
        /// How long opening a message takes, as a slow spool would.
        var openDelay: Duration = .zero
    }

    struct Failure: Error {}

    private struct State {
        var opened: [Envelope] = []
        var committed: [Committed] = []
        var discarded: [QueueID] = []
        var appendedByteCount = 0
        var appendCount = 0
        var failures = Failures()
    }

    private let state = NIOLockedValueBox(State())

    var failures: Failures {
        get { state.withLockedValue { $0.failures } }
        set { state.withLockedValue { $0.failures = newValue } }
    }

    /// The envelopes of every message opened, in order.
    var opened: [Envelope] { state.withLockedValue { $0.opened } }
    /// The committed messages, in order.
    var committed: [Committed] { state.withLockedValue { $0.committed } }
    /// The queue ids of discarded messages, in order.
    var discarded: [QueueID] { state.withLockedValue { $0.discarded } }
    /// Content bytes appended to any message so far.
    var appendedByteCount: Int { state.withLockedValue { $0.appendedByteCount } }
    /// Successful appends to any message so far.
    var appendCount: Int { state.withLockedValue { $0.appendCount } }

    func openMessage(for envelope: Envelope, logger: Logger) async throws -> any SMTPIncomingMessage {
        let failures = state.withLockedValue { state in
            state.opened.append(envelope)
            return state.failures
        }
        if failures.openDelay > .zero { try await Task.sleep(for: failures.openDelay) }
        if failures.open { throw Failure() }
        return Message(queueID: QueueID.generate(), receiver: self)
    }

    /// Records an append that is the message's `index`-th (from 0); throws when it must fail.
    fileprivate func appended(_ count: Int, index: Int) throws {
        try state.withLockedValue { state in
            if let limit = state.failures.appendsBeforeFailure, index >= limit { throw Failure() }
            state.appendedByteCount += count
            state.appendCount += 1
        }
    }

    fileprivate func commit(_ committed: Committed) throws {
        try state.withLockedValue { state in
            if state.failures.commit { throw Failure() }
            state.committed.append(committed)
        }
    }

    fileprivate func discarded(_ queueID: QueueID) {
        state.withLockedValue { $0.discarded.append(queueID) }
    }

    private final class Message: SMTPIncomingMessage {
        let queueID: QueueID
        private let receiver: InMemoryMessageReceiver
        private let content = NIOLockedValueBox<[UInt8]>([])
        private let appends = NIOLockedValueBox(0)

        init(queueID: QueueID, receiver: InMemoryMessageReceiver) {
            self.queueID = queueID
            self.receiver = receiver
        }

        func append(_ content: ByteBuffer) async throws {
            let index = appends.withLockedValue { count in
                defer { count += 1 }
                return count
            }
            try receiver.appended(content.readableBytes, index: index)
            self.content.withLockedValue { $0 += content.readableBytesView }
        }

        func commit(envelope: Envelope) async throws {
            try receiver.commit(Committed(queueID: queueID, envelope: envelope, content: content.withLockedValue { $0 }))
        }

        func discard() async {
            receiver.discarded(queueID)
        }
    }
}

/// Waits until the condition holds, polling; false when it did not within the time limit.
func eventually(within seconds: Double = 5, _ condition: () -> Bool) async -> Bool {
    let deadline = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
    while ContinuousClock.now < deadline {
        if condition() { return true }
        try? await Task.sleep(for: .milliseconds(10))
    }
    return condition()
}
