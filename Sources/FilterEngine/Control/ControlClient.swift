import Foundation
import NIOCore
import NIOFoundationCompat
import NIOPosix

/// An error talking to the control socket.
public struct ControlError: Error, Sendable, CustomStringConvertible {
    /// What went wrong, for the operator.
    public var description: String
    /// True when no server listens on the socket, so the files may be changed directly.
    public var serverUnavailable: Bool

    /// Creates an error.
    public init(_ description: String, serverUnavailable: Bool = false) {
        self.description = description
        self.serverUnavailable = serverUnavailable
    }
}

/// Sends one request to a running server's control socket (what `filterctl` uses).
public enum ControlClient {
    /// Sends the request and waits for the answer.
    /// - Throws: ``ControlError`` or a connection error when no server listens on `path`.
    public static func send(_ request: ControlRequest, to path: String) async throws -> ControlResponse {
        let channel: NIOAsyncChannel<ByteBuffer, ByteBuffer>
        do {
            channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .connect(unixDomainSocketPath: path) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                    }
                }
        } catch {
            throw ControlError("no server answers on \(path): \(error)", serverUnavailable: true)
        }
        return try await channel.executeThenClose { inbound, outbound in
            var bytes = ByteBuffer(data: try JSONEncoder().encode(request))
            bytes.writeStaticString("\n")
            try await outbound.write(bytes)
            var lines = ControlLineReader(maximumBytes: 64 * 1024 * 1024)
            for try await bytes in inbound {
                if let line = try lines.append(bytes) {
                    return try JSONDecoder().decode(ControlResponse.self, from: line)
                }
            }
            throw ControlError("the server closed the control connection without answering")
        }
    }
}
