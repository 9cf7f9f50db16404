import NIOCore

/// Decodes the bytes from the next hop into ``SMTPReply`` values.
struct SMTPReplyDecoder: ByteToMessageDecoder {
    typealias InboundOut = SMTPReply

    private var parser: SMTPReplyParser

    init(limits: SMTPReplyParser.Limits) {
        self.parser = SMTPReplyParser(limits: limits)
    }

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let reply = try parser.parse(&buffer) else { return .needMoreData }
        context.fireChannelRead(wrapInboundOut(reply))
        return .continue
    }

    mutating func decodeLast(
        context: ChannelHandlerContext,
        buffer: inout ByteBuffer,
        seenEOF: Bool
    ) throws -> DecodingState {
        // A reply cut off by the close is reported by the dispatcher as a closed connection.
        while try decode(context: context, buffer: &buffer) == .continue {}
        buffer.moveReaderIndex(to: buffer.writerIndex)
        return .needMoreData
    }
}

/// What the client asks of the channel: bytes to send and the replies they will produce.
struct SMTPClientRequest: Sendable {
    /// The bytes to write; `nil` to wait for a reply without sending (the greeting).
    var bytes: ByteBuffer?
    /// How many replies the bytes produce (one per pipelined command; 0 for content).
    var expectedReplies: Int
    /// For replies, how long to wait for each; for content, how long the write may take.
    var timeout: TimeAmount
    /// What is awaited, for error messages ("the reply to MAIL FROM").
    var purpose: String
    /// Completed with the replies, in order; `nil` for content.
    var replyPromise: EventLoopPromise<[SMTPReply]>?
}

/// Pairs replies with the requests that caused them, in order, and enforces the timeouts.
///
/// Any failure (timeout, protocol violation, closed connection) fails every outstanding request
/// and closes the channel: after that the connection's state is unknown and it is never reused.
final class SMTPClientDispatcher: ChannelDuplexHandler {
    typealias InboundIn = SMTPReply
    typealias OutboundIn = SMTPClientRequest
    typealias OutboundOut = ByteBuffer

    private struct Waiter {
        var expected: Int
        var received: [SMTPReply]
        var timeout: TimeAmount
        var purpose: String
        var promise: EventLoopPromise<[SMTPReply]>
    }

    private var waiters = CircularBuffer<Waiter>()
    /// Replies that arrived before anyone asked (the greeting, or a `421` on an idle
    /// connection); the next request receives them.
    private var unclaimed = CircularBuffer<SMTPReply>()
    private var replyTimer: Scheduled<Void>?
    private var failure: SMTPClientError?
    private var context: ChannelHandlerContext?

    /// A server that keeps sending replies nobody asked for is not an SMTP server.
    private static let maximumUnclaimedReplies = 8

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        fail(SMTPClientError(.connectionClosed, "connection handler removed"), context: context)
        self.context = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let reply = unwrapInboundIn(data)
        guard failure == nil else { return }
        guard !waiters.isEmpty else {
            unclaimed.append(reply)
            if unclaimed.count > Self.maximumUnclaimedReplies {
                fail(SMTPClientError(.protocolViolation, "server sent replies nobody asked for"), context: context)
            }
            return
        }
        deliver(reply)
        rearmTimer(context: context)
    }

    func channelInactive(context: ChannelHandlerContext) {
        let purpose = waiters.first?.purpose ?? "the next command"
        fail(
            SMTPClientError(.connectionClosed, "the next hop closed the connection while awaiting \(purpose)"),
            context: context
        )
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        let clientError =
            error as? SMTPClientError
            ?? SMTPClientError(.connectionClosed, "connection error: \(error)")
        fail(clientError, context: context)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let request = unwrapOutboundIn(data)
        if let failure {
            request.replyPromise?.fail(failure)
            promise?.fail(failure)
            return
        }
        if let replyPromise = request.replyPromise, request.expectedReplies > 0 {
            waiters.append(
                Waiter(
                    expected: request.expectedReplies, received: [], timeout: request.timeout,
                    purpose: request.purpose, promise: replyPromise
                )
            )
            while !unclaimed.isEmpty, !waiters.isEmpty {
                deliver(unclaimed.removeFirst())
            }
            if replyTimer == nil { rearmTimer(context: context) }
        }
        guard let bytes = request.bytes else {
            promise?.succeed()
            return
        }
        if request.replyPromise == nil {
            writeContent(bytes, request: request, context: context, promise: promise)
        } else {
            context.write(wrapOutboundOut(bytes), promise: promise)
        }
    }

    /// Content has no reply to time; instead the write itself must finish in time, or the
    /// next hop has stopped reading (RFC 5321 §4.5.3.2.5).
    private func writeContent(
        _ bytes: ByteBuffer,
        request: SMTPClientRequest,
        context: ChannelHandlerContext,
        promise: EventLoopPromise<Void>?
    ) {
        let writePromise = promise ?? context.eventLoop.makePromise()
        let loop = context.eventLoop.assumeIsolated()
        let timer = loop.scheduleTask(in: request.timeout) {
            self.fail(
                SMTPClientError(
                    .timeout,
                    "the next hop did not accept \(request.purpose) within \(Self.seconds(request.timeout))"
                ),
                context: context
            )
        }
        writePromise.futureResult.assumeIsolated().whenComplete { _ in timer.cancel() }
        context.write(wrapOutboundOut(bytes), promise: writePromise)
    }

    private func deliver(_ reply: SMTPReply) {
        waiters[waiters.startIndex].received.append(reply)
        let head = waiters[waiters.startIndex]
        guard head.received.count == head.expected else { return }
        waiters.removeFirst()
        head.promise.succeed(head.received)
    }

    private func rearmTimer(context: ChannelHandlerContext) {
        replyTimer?.cancel()
        replyTimer = nil
        guard let head = waiters.first else { return }
        let purpose = head.purpose
        let timeout = head.timeout
        replyTimer = context.eventLoop.assumeIsolated().scheduleTask(in: timeout) {
            self.replyTimer = nil
            self.fail(
                SMTPClientError(.timeout, "no reply to \(purpose) within \(Self.seconds(timeout))"),
                context: context
            )
        }
    }

    private func fail(_ error: SMTPClientError, context: ChannelHandlerContext) {
        guard failure == nil else { return }
        failure = error
        replyTimer?.cancel()
        replyTimer = nil
        while let waiter = waiters.popFirst() {
            waiter.promise.fail(error)
        }
        unclaimed.removeAll()
        context.close(promise: nil)
    }

    private static func seconds(_ amount: TimeAmount) -> String {
        let milliseconds = amount.nanoseconds / 1_000_000
        return milliseconds % 1000 == 0 ? "\(milliseconds / 1000) s" : "\(milliseconds) ms"
    }
}
