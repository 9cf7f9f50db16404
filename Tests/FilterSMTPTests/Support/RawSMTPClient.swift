import FilterSMTP
import Logging
import NIOCore
import NIOPosix
import Testing

/// One reply as read off the wire.
struct WireReply: Sendable, CustomStringConvertible {
    /// The lines without CRLF, for example `250-PIPELINING`, `250 2.0.0 Ok`.
    var lines: [String]

    var code: Int { Int(lines.last!.prefix(3)) ?? 0 }

    /// The text of the last line after the code.
    var text: String { String(lines.last!.dropFirst(4)) }

    /// The code and the enhanced status of the last line, if it has one.
    var expected: ExpectedReply {
        var reply = ExpectedReply(code)
        if let word = text.split(separator: " ").first, let status = EnhancedStatusCode(word) {
            reply.enhancedStatus = status
        }
        return reply
    }

    var description: String { lines.joined(separator: " | ") }
}

/// A plain TCP client that writes raw bytes and reads SMTP replies, for driving the server
/// exactly as a (possibly misbehaving) client would.
struct RawSMTPClient {
    private var iterator: NIOAsyncChannelInboundStream<ByteBuffer>.AsyncIterator
    private let outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>
    private var pending: [UInt8] = []

    private init(iterator: NIOAsyncChannelInboundStream<ByteBuffer>.AsyncIterator, outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>) {
        self.iterator = iterator
        self.outbound = outbound
    }

    /// Connects, runs the body, and closes the connection when the body returns.
    static func connect<Result: Sendable>(
        to address: SocketAddress, _ body: (inout RawSMTPClient) async throws -> Result
    ) async throws -> Result {
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connect(to: address) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                }
            }
        return try await channel.executeThenClose { inbound, outbound in
            var client = RawSMTPClient(iterator: inbound.makeAsyncIterator(), outbound: outbound)
            return try await body(&client)
        }
    }

    func send(_ text: String) async throws {
        try await outbound.write(ByteBuffer(string: text))
    }

    func send(bytes: [UInt8]) async throws {
        try await outbound.write(ByteBuffer(bytes: bytes))
    }

    /// Reads one complete (possibly multi-line) reply; nil when the server closed first.
    mutating func readReply() async throws -> WireReply? {
        var lines: [String] = []
        while true {
            while let lineFeed = pending.firstIndex(of: UInt8(ascii: "\n")) {
                var line = pending[..<lineFeed]
                if line.last == UInt8(ascii: "\r") { line = line.dropLast() }
                let text = String(decoding: line, as: UTF8.self)
                pending.removeFirst(lineFeed + 1)
                lines.append(text)
                let bytes = Array(text.utf8)
                if bytes.count < 4 || bytes[3] != UInt8(ascii: "-") { return WireReply(lines: lines) }
            }
            guard let chunk = try await nextChunk() else { return nil }
            pending += chunk.readableBytesView
        }
    }

    /// Reads the given number of replies.
    mutating func readReplies(_ count: Int) async throws -> [WireReply] {
        var replies: [WireReply] = []
        for _ in 0..<count {
            guard let reply = try await readReply() else { break }
            replies.append(reply)
        }
        return replies
    }

    /// Reads until the server closes the connection; returns whatever came meanwhile.
    mutating func readUntilClosed() async throws -> [UInt8] {
        while let chunk = try await nextChunk() {
            pending += chunk.readableBytesView
        }
        defer { pending = [] }
        return pending
    }

    /// The next bytes, or nil at the end of the stream (a reset counts as the end too).
    private mutating func nextChunk() async throws -> ByteBuffer? {
        do {
            return try await iterator.next()
        } catch is IOError {
            return nil
        }
    }
}

/// Runs an ``SMTPServer`` on 127.0.0.1 with a free port for the duration of the body, then shuts
/// it down and waits for `run()` to return.
func withTestServer(
    receiver: InMemoryMessageReceiver,
    configure: (inout SMTPServerConfiguration) -> Void = { _ in },
    _ body: (SocketAddress, SMTPServer) async throws -> Void
) async throws {
    var configuration = SMTPServerConfiguration(hostname: "filter.test", host: "127.0.0.1", port: 0)
    configure(&configuration)
    let server = SMTPServer(
        configuration: configuration, receiver: receiver, logger: Logger(label: "smtp-test", factory: { _ in SwiftLogNoOpLogHandler() }))
    let (addresses, continuation) = AsyncStream<SocketAddress>.makeStream()
    try await withThrowingTaskGroup(of: Void.self) { group in
        group.addTask {
            try await server.run(onListening: { address in
                continuation.yield(address)
                continuation.finish()
            })
        }
        var iterator = addresses.makeAsyncIterator()
        guard let address = await iterator.next() else {
            try await group.waitForAll()
            Issue.record("the server did not start listening")
            return
        }
        do {
            try await body(address, server)
        } catch {
            server.shutdown()
            try? await group.waitForAll()
            throw error
        }
        server.shutdown()
        try await group.waitForAll()
    }
}
