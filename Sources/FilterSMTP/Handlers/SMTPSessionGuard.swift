import NIOCore

/// Watches one SMTP connection for silence and for server shutdown.
///
/// It sits in front of the async session code and never writes replies itself: when the client
/// has been silent longer than the phase's timeout, or when the server shuts down while the
/// session waits for a command, it raises an error in the inbound stream and the session answers
/// with 421 through its state machine.
final class SMTPSessionGuard: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// The phase the session is in, sent as an outbound user event.
    enum Phase: Sendable {
        /// Waiting for a command: the command timeout applies and shutdown interrupts.
        case command
        /// Reading or committing a message: the data timeout applies; shutdown waits.
        case message
    }

    /// Asks the session to end at its next opportunity; sent as an outbound user event.
    struct ShutdownRequest: Sendable {}

    /// Raised in the inbound stream when the client was silent too long.
    struct Timeout: Error {}
    /// Raised in the inbound stream when the server shuts down and the session is idle.
    struct ShuttingDown: Error {}

    private let commandTimeout: TimeAmount
    private let dataTimeout: TimeAmount
    private var phase = Phase.command
    private var lastActivity = NIODeadline.now()
    private var timer: Scheduled<Void>?
    private var shutdownRequested = false
    private var raised = false

    init(commandTimeout: TimeAmount, dataTimeout: TimeAmount) {
        self.commandTimeout = commandTimeout
        self.dataTimeout = dataTimeout
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { arm(context: context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        arm(context: context)
        context.fireChannelActive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        timer?.cancel()
    }

    func channelInactive(context: ChannelHandlerContext) {
        timer?.cancel()
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        lastActivity = .now()
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        lastActivity = .now()
        context.write(data, promise: promise)
    }

    func triggerUserOutboundEvent(context: ChannelHandlerContext, event: Any, promise: EventLoopPromise<Void>?) {
        switch event {
        case let phase as Phase:
            self.phase = phase
            lastActivity = .now()
            if phase == .command, shutdownRequested {
                raise(ShuttingDown(), context: context)
            } else if !raised {
                // The timer runs to the old phase's deadline; re-arm it so the new phase's
                // timeout applies from now, not only after the old one has passed.
                arm(context: context)
            }
            promise?.succeed()
        case is ShutdownRequest:
            shutdownRequested = true
            if phase == .command { raise(ShuttingDown(), context: context) }
            promise?.succeed()
        default:
            context.triggerUserOutboundEvent(event, promise: promise)
        }
    }

    private func arm(context: ChannelHandlerContext) {
        timer?.cancel()
        let timeout = phase == .command ? commandTimeout : dataTimeout
        let deadline = lastActivity + timeout
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        timer = context.eventLoop.scheduleTask(deadline: deadline) {
            let (handler, context) = loopBound.value
            handler.timerFired(context: context)
        }
    }

    private func timerFired(context: ChannelHandlerContext) {
        let timeout = phase == .command ? commandTimeout : dataTimeout
        if NIODeadline.now() - lastActivity >= timeout {
            raise(Timeout(), context: context)
        } else {
            arm(context: context)
        }
    }

    private func raise(_ error: any Error, context: ChannelHandlerContext) {
        guard !raised else { return }
        raised = true
        timer?.cancel()
        context.fireErrorCaught(error)
    }
}
