import FilterCore
import FilterEngine
import Foundation
import Synchronization

/// What the client monitor shows: the last decisions of a ``FilterClient`` (a bounded ring)
/// and per-processor statistics since start. It is the client's ``FilterClientObserver``.
public final class ClientMonitor: FilterClientObserver {
    /// One processor's statistics since the client started.
    public struct ProcessorStatistics: Sendable, Hashable {
        /// The processor's name in the pipeline.
        public var name: String
        /// How often it ran.
        public var runs = 0
        /// How often it decided (ended the pipeline with an action).
        public var decisions = 0
        /// How often it failed with an error.
        public var errors = 0
        /// How often it ran past its step's timeout.
        public var timeouts = 0
        /// The milliseconds of all its runs.
        public var totalMilliseconds = 0

        /// The mean milliseconds of a run; 0 before the first.
        public var meanMilliseconds: Double { runs == 0 ? 0 : Double(totalMilliseconds) / Double(runs) }
    }

    /// Everything the monitor knows at one moment.
    public struct Snapshot: Sendable, Hashable {
        /// The last decisions, newest first.
        public var recent: [ClientAnswer]
        /// Requests decided since start.
        public var answered: Int
        /// Decisions since start, by action.
        public var actions: [FilterAction: Int]
        /// Each processor's statistics, in the order they first ran.
        public var processors: [ProcessorStatistics]
        /// When the monitor started.
        public var startedAt: Date
    }

    private struct State {
        var ring: [ClientAnswer] = []
        var next = 0
        var answered = 0
        var actions: [FilterAction: Int] = [:]
        var processors: [ProcessorStatistics] = []
    }

    /// How many decisions are kept.
    public let capacity: Int
    private let startedAt = Date()
    private let state = Mutex(State())

    /// The default number of decisions kept.
    public static let defaultCapacity = 100

    /// Creates a monitor keeping the last `capacity` decisions (default 100).
    public init(capacity: Int = ClientMonitor.defaultCapacity) {
        self.capacity = max(1, capacity)
    }

    /// Records a decision.
    public func clientDecided(_ answer: ClientAnswer) {
        state.withLock { state in
            if state.ring.count < capacity {
                state.ring.append(answer)
            } else {
                state.ring[state.next] = answer
            }
            state.next = (state.next + 1) % capacity
            state.answered += 1
            state.actions[answer.reply.action, default: 0] += 1
            for trace in answer.reply.processors ?? [] {
                let index: Int
                if let known = state.processors.firstIndex(where: { $0.name == trace.name }) {
                    index = known
                } else {
                    state.processors.append(ProcessorStatistics(name: trace.name))
                    index = state.processors.count - 1
                }
                state.processors[index].runs += 1
                state.processors[index].totalMilliseconds += trace.ms
                switch trace.outcome {
                case "continue": break
                case "error": state.processors[index].errors += 1
                case "timeout": state.processors[index].timeouts += 1
                default: state.processors[index].decisions += 1
                }
            }
        }
    }

    /// What the monitor knows now.
    public func snapshot() -> Snapshot {
        state.withLock { state in
            let ordered = state.ring.count < capacity ? state.ring : Array(state.ring[state.next...] + state.ring[..<state.next])
            return Snapshot(
                recent: ordered.reversed(), answered: state.answered, actions: state.actions, processors: state.processors,
                startedAt: startedAt)
        }
    }
}
