import NIOCore
import NIOPosix

/// A client of ClamAV's clamd: `INSTREAM` over one connection per scan, TCP or unix socket.
public struct ClamdClient: Sendable {
    /// Where clamd listens.
    public var address: DaemonAddress
    /// Timeouts and the answer's size limit.
    public var limits: DaemonLimits
    /// The largest `INSTREAM` chunk, in bytes; default 64 KiB.
    public let chunkSize: Int
    private let eventLoopGroup: any EventLoopGroup

    /// Creates a client; nothing connects until the first scan.
    /// - Parameters:
    ///   - address: Where clamd listens (Debian's socket is `/var/run/clamav/clamd.ctl`).
    ///   - limits: Timeouts and the answer's size limit.
    ///   - chunkSize: The largest `INSTREAM` chunk, in bytes; default 64 KiB.
    ///   - eventLoopGroup: The event loops connections run on.
    /// - Precondition: `chunkSize` is positive and fits the protocol's 4-byte length.
    public init(
        address: DaemonAddress, limits: DaemonLimits = DaemonLimits(), chunkSize: Int = 64 * 1024,
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) {
        precondition(chunkSize > 0 && chunkSize <= Int(UInt32.max), "INSTREAM chunk size out of range: \(chunkSize)")
        self.address = address
        self.limits = limits
        self.chunkSize = chunkSize
        self.eventLoopGroup = eventLoopGroup
    }

    /// Scans `data` with `INSTREAM`.
    /// - Returns: The signature found, if any.
    /// - Throws: ``DaemonError`` (`messageTooLarge` past clamd's `StreamMaxLength`), or
    ///   `CancellationError`.
    public func scan(_ data: [UInt8]) async throws -> ClamdScanResult {
        try ClamdProtocol.parseInstreamResponse(try await connection.exchange(ClamdProtocol.encodeInstream(data, chunkSize: chunkSize)))
    }

    /// Checks that clamd answers (`PING`).
    /// - Throws: ``DaemonError`` when it does not, or `CancellationError`.
    public func ping() async throws {
        try ClamdProtocol.parsePong(try await connection.exchange(ClamdProtocol.encodePing()))
    }

    private var connection: DaemonConnection {
        DaemonConnection(daemon: "clamd", address: address, limits: limits, eventLoopGroup: eventLoopGroup)
    }
}
