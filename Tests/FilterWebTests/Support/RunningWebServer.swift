import FilterWeb
import Foundation
import Logging
import NIOCore
import ServiceLifecycle

/// Runs a ``WebServer`` with `features` on a free loopback port for the duration of `body`,
/// handing it a client for the listener; the server is shut down gracefully afterwards.
func withWebServer<Result: Sendable>(
    features: [any WebFeature],
    _ body: (HTTPTestClient) async throws -> Result
) async throws -> Result {
    let logger = Logger(label: "test.web")
    let server = WebServer(listener: WebListener(host: "127.0.0.1", port: 0), features: features, logger: logger)
    let group = ServiceGroup(services: [server], logger: logger)
    let task = Task { try await group.run() }
    defer { task.cancel() }
    var addresses = server.listeningAddresses.makeAsyncIterator()
    guard let address = await addresses.next(), let port = address.port else {
        try await task.value
        throw WebTestError("the web server stopped before it listened")
    }
    let result = try await body(HTTPTestClient(base: URL(string: "http://127.0.0.1:\(port)")!))
    await group.triggerGracefulShutdown()
    try await task.value
    return result
}

/// A test set-up failure.
struct WebTestError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
