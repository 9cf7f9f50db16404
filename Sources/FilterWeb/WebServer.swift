import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle

/// One HTTP listener of filterd (the server console, the client monitor): the routes of its
/// features behind common security headers, run as a service until graceful shutdown.
public final class WebServer: Service, Sendable {
    /// Where it listens.
    public let listener: WebListener
    /// The address actually bound, once listening (the port when ``WebListener/port`` is 0).
    public let listeningAddresses: AsyncStream<SocketAddress>
    private let addressContinuation: AsyncStream<SocketAddress>.Continuation
    private let features: [any WebFeature]
    private let logger: Logger

    /// Creates a listener serving `features`.
    public init(listener: WebListener, features: [any WebFeature], logger: Logger) {
        self.listener = listener
        self.features = features
        self.logger = logger
        (listeningAddresses, addressContinuation) = AsyncStream.makeStream(bufferingPolicy: .bufferingNewest(1))
    }

    /// Serves until graceful shutdown.
    /// - Throws: when the address cannot be bound.
    public func run() async throws {
        let router = Router(context: WebRequestContext.self)
        router.add(middleware: SecurityHeadersMiddleware())
        for feature in features {
            feature.addRoutes(to: router)
        }
        let continuation = addressContinuation
        let logger = self.logger
        let application = Application(
            router: router,
            configuration: .init(address: .hostname(listener.host, port: listener.port), serverName: "filterd"),
            onServerRunning: { channel in
                if let address = channel.localAddress {
                    logger.info("Web listener ready", metadata: ["address": "\(address)"])
                    continuation.yield(address)
                }
            },
            logger: logger
        )
        defer { continuation.finish() }
        try await application.runService()
    }
}
