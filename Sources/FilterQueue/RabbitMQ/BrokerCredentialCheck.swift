import Foundation

/// Checks a user name and password by logging in to RabbitMQ over AMQP: it opens a connection
/// with them to the configured broker, and closes it again at once.
///
/// The web console uses it for mail users: their broker user is their owner address and they
/// have no management tag, so the management API would refuse them; an AMQP login is what
/// RabbitMQ's own authentication (internal users or LDAP) decides.
///
/// rabbitmq-c blocks, so each check runs on a thread of its own, never on an event loop or in
/// Swift's cooperative pool; it takes at most the URL's `connection_timeout` (twice: connect,
/// then login).
public struct BrokerCredentialCheck: Sendable {
    /// The broker: host, port, virtual host, TLS options and timeouts. Its user and password
    /// are replaced by the ones checked.
    public var broker: AMQPURL

    /// Creates a check against `broker`.
    public init(broker: AMQPURL) {
        self.broker = broker
    }

    /// Whether the broker accepts `user` with `password` on the virtual host.
    /// - Returns: `true` when the login succeeded; `false` when the broker refused the user
    ///   name, the password or access to the virtual host.
    /// - Throws: ``TransportError`` when the broker cannot answer: unreachable, TLS failure,
    ///   protocol error or time-out.
    public func verify(user: String, password: String) async throws(TransportError) -> Bool {
        var login = broker
        login.user = user
        login.password = password
        // No heartbeats for a connection that lives only for the login.
        login.heartbeatSeconds = 0
        let url = login
        let result: Result<Bool, TransportError> = await withCheckedContinuation { continuation in
            let thread = Thread {
                do throws(TransportError) {
                    let connection = try AMQPConnection(url: url, rpcTimeout: url.connectionTimeout)
                    connection.close()
                    continuation.resume(returning: .success(true))
                } catch where error.code == .authenticationFailed || error.code == .accessRefused {
                    continuation.resume(returning: .success(false))
                } catch {
                    continuation.resume(returning: .failure(error))
                }
            }
            thread.name = "filterd-broker-login"
            thread.start()
        }
        return try result.get()
    }
}
