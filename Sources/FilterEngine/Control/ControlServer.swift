import FilterCore
import FilterQuarantine
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
        let accepted = AcceptedChannels<ByteBuffer, ByteBuffer>()
        do {
            let previousMask = umask(0o077)
            let server = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .bind(unixDomainSocketPath: path, cleanupExistingSocketFile: true) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        let connection = try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                        accepted.accepted(connection)
                        return connection
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
            defer { accepted.acceptLoopEnded() }
            try await withThrowingDiscardingTaskGroup { group in
                try await server.executeThenClose { inbound in
                    for try await connection in inbound {
                        accepted.take(connection)
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
        case .quarantineList, .quarantineShow, .quarantineRelease, .quarantineDelete:
            guard let quarantine = server.quarantineService else {
                return ControlResponse(ok: false, message: "the quarantine is disabled on this server")
            }
            return await handleQuarantine(request, service: quarantine)
        }
    }

    private func handleQuarantine(_ request: ControlRequest, service: QuarantineService) async -> ControlResponse {
        if request.command == .quarantineList {
            do {
                let entries = try await service.store.list(
                    recipient: request.recipient, since: request.since, limit: request.limit)
                return ControlResponse(
                    ok: true, message: "\(entries.count) entr\(entries.count == 1 ? "y" : "ies") in the quarantine",
                    quarantineEntries: entries)
            } catch {
                return ControlResponse(ok: false, message: "\(error)")
            }
        }
        guard let id = request.quarantineID else {
            return ControlResponse(ok: false, message: "\(request.command.rawValue) needs a quarantine id")
        }
        let missing = ControlResponse(ok: false, message: "\(id): no such entry in the quarantine")
        do {
            switch request.command {
            case .quarantineShow:
                guard let entry = try await service.store.entry(id) else { return missing }
                let headers = try await service.store.headerSection(id)
                return ControlResponse(ok: true, message: "\(id)", quarantineEntries: [entry], headers: headers)
            case .quarantineRelease:
                guard let (entry, queueID) = try await service.release(id) else { return missing }
                return ControlResponse(ok: true, message: "\(id) released to <\(entry.recipient)> as \(queueID)")
            case .quarantineDelete:
                guard try await service.delete(id) else { return missing }
                return ControlResponse(ok: true, message: "\(id) deleted from the quarantine")
            case .retry, .retryAll, .delete, .quarantineList:
                return ControlResponse(ok: false, message: "\(request.command.rawValue) is not a quarantine command")
            }
        } catch {
            return ControlResponse(ok: false, message: "\(id): \(error)")
        }
    }
}

/// Collects one line from the bytes of a control connection: a request of at most 64 KiB,
/// or a response (which may list many quarantine entries) of at most 64 MiB.
struct ControlLineReader {
    private var buffer = ByteBuffer()
    private let maximumBytes: Int

    init(maximumBytes: Int = 64 * 1024) {
        self.maximumBytes = maximumBytes
    }

    /// Adds bytes; returns the line once its LF arrived.
    mutating func append(_ bytes: ByteBuffer) throws -> ByteBuffer? {
        var bytes = bytes
        buffer.writeBuffer(&bytes)
        if let newline = buffer.readableBytesView.firstIndex(of: UInt8(ascii: "\n")) {
            return buffer.getSlice(at: buffer.readerIndex, length: newline - buffer.readerIndex)
        }
        guard buffer.readableBytes <= maximumBytes else { throw ControlError("control line longer than \(maximumBytes) octets") }
        return nil
    }
}
