import NIOCore
import Synchronization

/// Connections a server has accepted but not yet handed to its accept loop.
///
/// NIO's child-channel initializer makes a `NIOAsyncChannel` on the child's event loop and then
/// passes it to the server channel's inbound stream. A connection accepted just as the server
/// stops can miss that stream; an `NIOAsyncChannel` dropped without `executeThenClose` stops the
/// process (NIO's precondition). Servers register each new channel here, take it when the accept
/// loop receives it, and call ``acceptLoopEnded()`` when the loop is over: every channel the
/// loop never took is closed properly then, or at once if it comes later.
public final class AcceptedChannels<Inbound: Sendable, Outbound: Sendable>: Sendable {
    private struct State {
        var waiting: [ObjectIdentifier: NIOAsyncChannel<Inbound, Outbound>] = [:]
        var loopEnded = false
    }

    private let state = Mutex(State())

    /// An empty registry.
    public init() {}

    /// Registers a channel made by the child-channel initializer.
    public func accepted(_ channel: NIOAsyncChannel<Inbound, Outbound>) {
        let tooLate = state.withLock { state in
            if !state.loopEnded { state.waiting[ObjectIdentifier(channel.channel)] = channel }
            return state.loopEnded
        }
        if tooLate { Self.close(channel) }
    }

    /// Marks a channel as received by the accept loop, which now owns it.
    public func take(_ channel: NIOAsyncChannel<Inbound, Outbound>) {
        _ = state.withLock { $0.waiting.removeValue(forKey: ObjectIdentifier(channel.channel)) }
    }

    /// Closes every channel the accept loop never received, and any that arrives later.
    public func acceptLoopEnded() {
        let leftovers = state.withLock { state in
            state.loopEnded = true
            defer { state.waiting = [:] }
            return Array(state.waiting.values)
        }
        leftovers.forEach(Self.close)
    }

    private static func close(_ channel: NIOAsyncChannel<Inbound, Outbound>) {
        Task { try? await channel.executeThenClose { _, _ in } }
    }
}
