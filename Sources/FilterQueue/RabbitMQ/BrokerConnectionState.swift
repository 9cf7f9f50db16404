import Foundation
import Synchronization

/// Whether a ``RabbitMQTransport`` is connected to its broker, and since when: what a monitor
/// page shows.
public struct BrokerConnectionState: Sendable, Hashable {
    /// Where the connection stands. An open set.
    public struct Status: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
        /// The status's name, as shown to operators.
        public var rawValue: String
        /// Creates a status.
        public init(rawValue: String) { self.rawValue = rawValue }
        /// The name.
        public var description: String { rawValue }

        /// No connection was needed yet, or the first one is being opened.
        public static let connecting = Status(rawValue: "connecting")
        /// Every connection the transport uses is open.
        public static let connected = Status(rawValue: "connected")
        /// A connection was lost and is being opened again with backoff.
        public static let reconnecting = Status(rawValue: "reconnecting")
        /// The transport was shut down, or gave up (wrong credentials, refused access).
        public static let closed = Status(rawValue: "closed")
    }

    /// Where the connection stands.
    public var status: Status
    /// When it got there.
    public var since: Date
    /// Why the last connection was lost or refused, if one was.
    public var lastError: String?

    /// Creates a state.
    public init(status: Status, since: Date, lastError: String? = nil) {
        self.status = status
        self.since = since
        self.lastError = lastError
    }
}

/// The state of each connection of a transport (publisher, consumer), written by their worker
/// threads and read by anyone.
final class BrokerConnectionStates: Sendable {
    private let created = Date()
    private let states = Mutex<[AMQPWorker.Role: BrokerConnectionState]>([:])

    /// Records the new state of the connection of `role`.
    func record(_ role: AMQPWorker.Role, _ status: BrokerConnectionState.Status, error: String? = nil) {
        states.withLock { states in
            let lastError = error ?? states[role]?.lastError
            states[role] = BrokerConnectionState(status: status, since: Date(), lastError: lastError)
        }
    }

    /// One state for the transport: reconnecting while any connection is, closed when every
    /// one is, connected when every one in use is open; connecting before the first.
    var combined: BrokerConnectionState {
        let all = states.withLock { Array($0.values) }
        guard !all.isEmpty else { return BrokerConnectionState(status: .connecting, since: created) }
        let lastError = all.compactMap(\.lastError).last
        for status in [BrokerConnectionState.Status.reconnecting, .connecting] {
            let matching = all.filter { $0.status == status }
            if let earliest = matching.map(\.since).min() {
                return BrokerConnectionState(status: status, since: earliest, lastError: lastError)
            }
        }
        let status: BrokerConnectionState.Status = all.allSatisfy { $0.status == .closed } ? .closed : .connected
        let since = all.filter { $0.status == status }.map(\.since).max() ?? created
        return BrokerConnectionState(status: status, since: since, lastError: lastError)
    }
}
