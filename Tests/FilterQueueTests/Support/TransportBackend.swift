import FilterQueue

/// One backend of ``FilterTransport`` under the conformance suite: it makes transports logged
/// in as the server or as an owner's client, and subscribes owners the way `filterctl user add`
/// would (user, request queue bound to `mailfilter.requests`, events queue bound to
/// `mailfilter.events`, limits).
protocol TransportBackend: Sendable {
    /// A short name for test output (`in-memory`, `rabbitmq`).
    var name: String { get }

    /// A transport logged in as the filter server.
    func server() async throws -> any FilterTransport

    /// A transport logged in as the owner's own broker user.
    func client(owner: String) async throws -> any FilterTransport

    /// Subscribes `owner`: creates their broker user, request queue and events queue, with the
    /// request queue's length limit in octets (`max-length-bytes`, `overflow=reject-publish`) when given.
    func subscribe(owner: String, maxLengthBytes: Int?) async throws
}
