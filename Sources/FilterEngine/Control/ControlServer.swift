import FilterCore
import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOFoundationCompat
import NIOPosix

/// Answers ``ControlRequest``s from `filterctl` on a Unix-domain socket.
final class ControlServer: Sendable {
    private let path: String
    private let handler: ControlHandler
    private let logger: Logger
    private let channel = NIOLockedValueBox<(any Channel)?>(nil)
    private let stopped = NIOLockedValueBox(false)

    init(path: String, handler: ControlHandler, logger: Logger) {
        self.path = path
        self.handler = handler
        self.logger = logger
    }

    /// Serves until ``shutdown()``. A socket that cannot be bound is logged, not fatal: mail
    /// flow does not depend on the control socket.
    func run() async {
        do {
            let previousMask = umask(0o077)
            let server = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .bind(unixDomainSocketPath: path, cleanupExistingSocketFile: true) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                    }
                }
            umask(previousMask)
            chmod(path, 0o600)
            let alreadyStopped = stopped.withLockedValue { stopped in
                channel.withLockedValue { $0 = server.channel }
                return stopped
            }
            if alreadyStopped { try await server.channel.close() }
            logger.info("Control socket listening", metadata: ["control.path": "\(path)"])
            try await withThrowingDiscardingTaskGroup { group in
                try await server.executeThenClose { inbound in
                    for try await connection in inbound {
                        group.addTask { await self.serve(connection) }
                    }
                }
            }
        } catch {
            logger.error("Control socket unavailable", metadata: ["control.path": "\(path)", "error": "\(error)"])
        }
        unlink(path)
    }

    func shutdown() {
        let server = stopped.withLockedValue { stopped in
            stopped = true
            return channel.withLockedValue { $0 }
        }
        server?.close(promise: nil)
    }

    private func serve(_ connection: NIOAsyncChannel<ByteBuffer, ByteBuffer>) async {
        try? await connection.executeThenClose { inbound, outbound in
            var lines = ControlLineReader()
            for try await bytes in inbound {
                guard let line = try lines.append(bytes) else { continue }
                let response: ControlResponse
                do {
                    let request = try JSONDecoder().decode(ControlRequest.self, from: line)
                    response = await handler.handle(request)
                } catch {
                    response = ControlResponse(ok: false, message: "bad request: \(error)")
                }
                var bytes = ByteBuffer(data: try JSONEncoder().encode(response))
                bytes.writeStaticString("\n")
                try await outbound.write(bytes)
                return
            }
        }
    }
}

/// Carries out control requests on a running server.
struct ControlHandler: Sendable {
    let server: FilterServer

    func handle(_ request: ControlRequest) async -> ControlResponse {
        switch request.command {
        case .retryAll:
            let count = await server.retryAll()
            return ControlResponse(ok: true, message: "\(count) deferred message(s) scheduled for delivery now")
        case .retry:
            guard let id = request.queueID else { return ControlResponse(ok: false, message: "retry needs a queue id") }
            let found = await server.retry(id)
            return ControlResponse(ok: found, message: found ? "\(id) scheduled for delivery now" : "\(id): no such message in the spool")
        case .delete:
            guard let id = request.queueID else { return ControlResponse(ok: false, message: "delete needs a queue id") }
            do {
                let found = try await server.delete(id)
                return ControlResponse(ok: found, message: found ? "\(id) deleted" : "\(id): no such message in the spool")
            } catch {
                return ControlResponse(ok: false, message: "\(id): \(error)")
            }
        }
    }
}

/// Collects one request line (at most 64 KiB) from the bytes of a control connection.
struct ControlLineReader {
    private var buffer = ByteBuffer()

    /// Adds bytes; returns the line once its LF arrived.
    mutating func append(_ bytes: ByteBuffer) throws -> ByteBuffer? {
        var bytes = bytes
        buffer.writeBuffer(&bytes)
        if let newline = buffer.readableBytesView.firstIndex(of: UInt8(ascii: "\n")) {
            return buffer.getSlice(at: buffer.readerIndex, length: newline - buffer.readerIndex)
        }
        guard buffer.readableBytes <= 65536 else { throw ControlError("control request longer than 64 KiB") }
        return nil
    }
}
