import FilterCore
import FilterEngine
import FilterQueue
import Foundation
import Hummingbird

/// The client monitor of `filterd client` (docs/monitor.md): `GET /` shows what this client
/// decided lately and why, its pipeline statistics and its broker connection, behind HTTP
/// Basic authentication with the client's own broker user and password.
///
/// The page reloads itself every ``refreshSeconds`` seconds (the `Refresh` response header:
/// no script at all); its stylesheet is `/static/monitor.css`.
public struct MonitorFeature: WebFeature {
    /// The user name and password a browser must send.
    public struct Credentials: Sendable, Hashable {
        /// The user name (the client's broker user).
        public var user: String
        /// The password (the client's broker password).
        public var password: String

        /// Creates credentials.
        public init(user: String, password: String) {
            self.user = user
            self.password = password
        }
    }

    /// The realm of the `WWW-Authenticate` challenge.
    public static let realm = "filterd client"
    /// How often the page reloads itself, in seconds.
    public static let refreshSeconds = 5

    private let monitor: ClientMonitor
    private let owner: String
    private let broker: String
    private let connection: @Sendable () -> BrokerConnectionState
    private let credentials: Credentials

    /// Creates the monitor's routes.
    /// - Parameters:
    ///   - monitor: The client's observer.
    ///   - owner: The owner whose requests the client answers.
    ///   - broker: The broker URL as shown (``AMQPURL/description`` leaves the password out).
    ///   - credentials: What a browser must send.
    ///   - connection: The broker connection's state now (``RabbitMQTransport/connectionState``).
    public init(
        monitor: ClientMonitor, owner: String, broker: String, credentials: Credentials,
        connection: @escaping @Sendable () -> BrokerConnectionState
    ) {
        self.monitor = monitor
        self.owner = owner
        self.broker = broker
        self.credentials = credentials
        self.connection = connection
    }

    /// Adds `GET /` and `GET /static/monitor.css`.
    public func addRoutes(to router: Router<WebRequestContext>) {
        router.get("/static/monitor.css") { _, _ in
            Response(
                status: .ok, headers: [.contentType: "text/css; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(string: MonitorPage.stylesheet)))
        }
        let group = router.group("/").add(middleware: BasicAuthenticationMiddleware(credentials: credentials, realm: Self.realm, owner: owner))
        group.get { _, _ in
            let page = MonitorPage(
                owner: owner, broker: broker, connection: connection(), snapshot: monitor.snapshot(), now: Date())
            var response = HTML.document(title: "filterd client \(owner)", body: page.body, stylesheets: ["/static/monitor.css"])
            response.headers[.init("Refresh")!] = "\(Self.refreshSeconds)"
            return response
        }
    }
}

/// Lets a request through only with `Authorization: Basic` and the right user and password
/// (compared in constant time); otherwise 401 with a Basic challenge. Sets the identity: a
/// user who sees `owner`'s mail.
struct BasicAuthenticationMiddleware: RouterMiddleware {
    typealias Context = WebRequestContext

    let credentials: MonitorFeature.Credentials
    let realm: String
    /// The owner whose decisions the authenticated user sees.
    let owner: String

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let given = Self.basicCredentials(request.headers[.authorization])
        // Both compared, whatever the first says: the time does not tell which one was wrong.
        let userMatches = ConstantTime.equal(given?.user ?? "", credentials.user)
        let passwordMatches = ConstantTime.equal(given?.password ?? "", credentials.password)
        guard let given, userMatches, passwordMatches else {
            return Response(
                status: .unauthorized,
                headers: [
                    .wwwAuthenticate: "Basic realm=\"\(realm)\", charset=\"UTF-8\"", .contentType: "text/plain; charset=utf-8",
                ],
                body: .init(byteBuffer: ByteBuffer(string: "authentication required\n")))
        }
        var context = context
        context.identity = WebIdentity(name: given.user, role: .user, owner: owner)
        return try await next(request, context)
    }

    /// The user and password of an `Authorization: Basic` header (RFC 7617), or `nil`.
    static func basicCredentials(_ header: String?) -> (user: String, password: String)? {
        guard let header, header.count > 6, header.prefix(6).lowercased() == "basic " else { return nil }
        guard let data = Data(base64Encoded: String(header.dropFirst(6)).trimmingCharacters(in: .whitespaces)),
            let text = String(data: data, encoding: .utf8), let colon = text.firstIndex(of: ":")
        else { return nil }
        return (String(text[..<colon]), String(text[text.index(after: colon)...]))
    }
}
