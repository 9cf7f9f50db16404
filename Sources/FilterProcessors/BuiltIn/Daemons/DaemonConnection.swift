import FilterCore
import NIOCore
import NIOPosix

/// One request and its answer over a fresh connection, as spamd and clamd speak: the client
/// sends its request, half-closes, and reads until the daemon closes.
///
/// Bounded everywhere: connecting by ``DaemonLimits/connectTimeout``, the whole exchange by
/// ``DaemonLimits/timeout``, the answer by ``DaemonLimits/maxResponseBytes``. Cancelling the
/// calling task closes the connection at once.
struct DaemonConnection: Sendable {
    /// The daemon's name for messages, for example `spamd`.
    var daemon: String
    /// Where it listens.
    var address: DaemonAddress
    /// Timeouts and the answer's size limit.
    var limits: DaemonLimits
    /// The event loops connections run on.
    var eventLoopGroup: any EventLoopGroup

    /// Sends `request` and returns everything the daemon answers before it closes.
    /// - Throws: ``DaemonError`` (`connectionFailed`, `timedOut`, `invalidResponse` for an
    ///   answer over the size limit), or `CancellationError` when the task is cancelled.
    func exchange(_ request: ByteBuffer) async throws -> ByteBuffer {
        let timeout = limits.timeout
        let result = try await withThrowingTaskGroup(of: ByteBuffer.self) { group in
            group.addTask { try await self.connectAndExchange(request) }
            group.addTask {
                try await Task.sleep(for: timeout)
                throw DaemonError(.timedOut, "\(daemon) at \(address) did not answer within \(timeout.timeInterval) s")
            }
            defer { group.cancelAll() }
            // The first child to end decides; the other is cancelled.
            return try await group.next()!
        }
        try Task.checkCancellation()
        return result
    }

    private func connectAndExchange(_ request: ByteBuffer) async throws -> ByteBuffer {
        let channel = try await connect()
        return try await channel.executeThenClose { inbound, outbound in
            // A daemon that refuses a request (clamd over its StreamMaxLength) answers and closes
            // while the request is still being written: its answer matters more than the write
            // error, so the write error is thrown only when no answer follows.
            var writeError: (any Error)?
            do {
                try await outbound.write(request)
                outbound.finish()
            } catch {
                writeError = error
            }
            var response = ByteBuffer()
            do {
                for try await chunk in inbound {
                    guard response.readableBytes + chunk.readableBytes <= limits.maxResponseBytes else {
                        throw DaemonError(
                            .invalidResponse, "\(daemon) at \(address) answered more than \(limits.maxResponseBytes) bytes")
                    }
                    response.writeImmutableBuffer(chunk)
                }
            } catch let error as DaemonError {
                throw error
            } catch let error as CancellationError {
                // The task was cancelled while reading: that, not a lost connection, ends it.
                throw error
            } catch where response.readableBytes > 0 {
                // A reset after the answer (the daemon closing on an unread request): the parser
                // judges whether the answer is complete.
            } catch {
                throw DaemonError(.connectionFailed, "\(daemon) at \(address): connection lost before an answer: \(error)")
            }
            try Task.checkCancellation()
            if response.readableBytes == 0, let writeError {
                throw DaemonError(.connectionFailed, "\(daemon) at \(address): sending the request failed: \(writeError)")
            }
            return response
        }
    }

    private func connect() async throws -> NIOAsyncChannel<ByteBuffer, ByteBuffer> {
        let bootstrap = ClientBootstrap(group: eventLoopGroup)
            .connectTimeout(.milliseconds(limits.connectTimeout.wholeMilliseconds))
        let initializer: @Sendable (any Channel) -> EventLoopFuture<NIOAsyncChannel<ByteBuffer, ByteBuffer>> = { channel in
            channel.eventLoop.makeCompletedFuture {
                try NIOAsyncChannel<ByteBuffer, ByteBuffer>(
                    wrappingChannelSynchronously: channel,
                    configuration: .init(isOutboundHalfClosureEnabled: true))
            }
        }
        do {
            switch address.endpoint {
            case .tcp(let host, let port):
                return try await bootstrap.connect(host: host, port: port, channelInitializer: initializer)
            case .unix(let path):
                return try await bootstrap.connect(unixDomainSocketPath: path, channelInitializer: initializer)
            }
        } catch {
            throw DaemonError(.connectionFailed, "\(daemon) at \(address) cannot be reached: \(error)")
        }
    }
}
