import FilterQueue

/// The conformance fixture for ``InMemoryTransport``: one fresh ``InMemoryBroker`` set up the
/// way `filterctl` sets up RabbitMQ, with each owner's broker user named after the owner.
struct InMemoryBackend: TransportBackend {
    /// The broker behind every transport of this fixture.
    let broker = InMemoryBroker()
    /// The filter server's broker user.
    let serverUser = "filterd-server"

    var name: String { "in-memory" }

    func server() async throws -> any FilterTransport {
        broker.addServer(user: serverUser)
        return InMemoryTransport(broker: broker, user: serverUser)
    }

    func client(owner: String) async throws -> any FilterTransport {
        InMemoryTransport(broker: broker, user: owner)
    }

    func subscribe(owner: String, maxLengthBytes: Int?) async throws {
        try broker.subscribe(owner: owner, user: owner, maxLengthBytes: maxLengthBytes)
    }
}
