import NIOCore
import NIOPosix

/// A client of SpamAssassin's spamd: one connection per request, over TCP or a unix socket.
public struct SpamdClient: Sendable {
    /// Where spamd listens.
    public var address: DaemonAddress
    /// Timeouts and the answer's size limit.
    public var limits: DaemonLimits
    private let eventLoopGroup: any EventLoopGroup

    /// Creates a client; nothing connects until the first request.
    /// - Parameters:
    ///   - address: Where spamd listens (its default is `127.0.0.1:783`).
    ///   - limits: Timeouts and the answer's size limit.
    ///   - eventLoopGroup: The event loops connections run on.
    public init(address: DaemonAddress, limits: DaemonLimits = DaemonLimits(), eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) {
        self.address = address
        self.limits = limits
        self.eventLoopGroup = eventLoopGroup
    }

    /// Asks spamd about `message`.
    /// - Parameters:
    ///   - message: The raw message.
    ///   - command: `CHECK`, `SYMBOLS` (default) or `REPORT`.
    ///   - user: Whose preferences spamd applies (the `User:` header); `nil` for spamd's default.
    /// - Returns: spamd's verdict.
    /// - Throws: ``DaemonError``, or `CancellationError`.
    public func check(_ message: [UInt8], command: SpamdCommand = .symbols, user: String? = nil) async throws -> SpamdResult {
        let answer = try await connection.exchange(SpamdProtocol.encodeRequest(command, message: message, user: user))
        return try SpamdProtocol.parseResponse(answer, command: command)
    }

    /// Checks that spamd answers (`PING`).
    /// - Throws: ``DaemonError`` when it does not, or `CancellationError`.
    public func ping() async throws {
        try SpamdProtocol.parsePong(try await connection.exchange(SpamdProtocol.encodeRequest(.ping, message: [], user: nil)))
    }

    private var connection: DaemonConnection {
        DaemonConnection(daemon: "spamd", address: address, limits: limits, eventLoopGroup: eventLoopGroup)
    }
}
