import FilterProcessors
import Foundation
import NIOCore
import NIOPosix
import Synchronization

/// An in-process stand-in for spamd, clamd or rspamd on 127.0.0.1 (port 0) or a unix socket:
/// it reads a request until `isComplete` says so (by default until the client half-closes),
/// records it, and answers what `answer` returns, or nothing at all.
final class FakeDaemon: Sendable {
    /// What the fake does with a complete request.
    enum Reply: Sendable {
        /// Sends these bytes and closes.
        case bytes([UInt8])
        /// Sends nothing and keeps the connection open: a daemon that hangs.
        case silence
    }

    /// Where it listens.
    let address: DaemonAddress
    /// Its TCP port (0 for a unix socket).
    let port: Int
    private let requests = Mutex<[[UInt8]]>([])

    private init(address: DaemonAddress, port: Int) {
        self.address = address
        self.port = port
    }

    /// The requests received so far.
    var received: [[UInt8]] { requests.withLock { $0 } }

    /// Runs a fake for the duration of `body`.
    /// - Parameters:
    ///   - unixSocket: Listen on a unix socket in a temporary directory instead of TCP.
    ///   - isComplete: Whether the bytes so far make a whole request; default: wait for the
    ///     client's half-close.
    ///   - answer: The reply to a whole request.
    @discardableResult
    static func withRunning<T: Sendable>(
        unixSocket: Bool = false,
        isComplete: @escaping @Sendable ([UInt8]) -> Bool = { _ in false },
        answer: @escaping @Sendable ([UInt8]) -> Reply,
        _ body: (FakeDaemon) async throws -> T
    ) async throws -> T {
        let bootstrap = ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.backlog, value: 16)
            .childChannelOption(.allowRemoteHalfClosure, value: true)
        let initializer: @Sendable (any Channel) -> EventLoopFuture<NIOAsyncChannel<ByteBuffer, ByteBuffer>> = { channel in
            channel.eventLoop.makeCompletedFuture { try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel) }
        }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("fake-daemon-\(UUID().uuidString.prefix(8))")
        let server: NIOAsyncChannel<NIOAsyncChannel<ByteBuffer, ByteBuffer>, Never>
        let fake: FakeDaemon
        if unixSocket {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            let path = directory.appendingPathComponent("daemon.sock").path
            server = try await bootstrap.bind(unixDomainSocketPath: path, childChannelInitializer: initializer)
            fake = FakeDaemon(address: .unix(path: path), port: 0)
        } else {
            server = try await bootstrap.bind(host: "127.0.0.1", port: 0, childChannelInitializer: initializer)
            let port = server.channel.localAddress?.port ?? 0
            fake = FakeDaemon(address: .tcp(host: "127.0.0.1", port: port), port: port)
        }
        defer { try? FileManager.default.removeItem(at: directory) }
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                try await server.executeThenClose { connections in
                    try await withThrowingDiscardingTaskGroup { connectionGroup in
                        for try await connection in connections {
                            connectionGroup.addTask { await fake.serve(connection, isComplete: isComplete, answer: answer) }
                        }
                    }
                }
            }
            defer { group.cancelAll() }
            return try await body(fake)
        }
    }

    private func serve(
        _ connection: NIOAsyncChannel<ByteBuffer, ByteBuffer>, isComplete: @Sendable ([UInt8]) -> Bool,
        answer: @Sendable ([UInt8]) -> Reply
    ) async {
        try? await connection.executeThenClose { inbound, outbound in
            var request: [UInt8] = []
            for try await chunk in inbound {
                request += chunk.readableBytesView
                if isComplete(request) { break }
            }
            requests.withLock { $0.append(request) }
            switch answer(request) {
            case .bytes(let bytes):
                try await outbound.write(ByteBuffer(bytes: bytes))
            case .silence:
                try await Task.sleep(for: .seconds(3600))
            }
        }
    }

    /// A TCP address where nothing listens: a port the kernel handed out and that was closed.
    static func closedAddress() async throws -> DaemonAddress {
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton).bind(host: "127.0.0.1", port: 0).get()
        let port = channel.localAddress?.port ?? 1
        try await channel.close()
        return .tcp(host: "127.0.0.1", port: port)
    }
}
