import FilterQueue
import FilterWeb
import Foundation
import Hummingbird
import Logging
import Synchronization
import Testing

/// A clock the tests move forward by hand.
final class ManualClock: Sendable {
    private let start = ContinuousClock.now
    private let offset = Mutex<Duration>(.zero)

    /// The current instant.
    var now: ContinuousClock.Instant { start + offset.withLock { $0 } }

    /// Moves the clock forward.
    func advance(by duration: Duration) { offset.withLock { $0 += duration } }
}

/// The console's authentication plus tiny protected routes to try it on: `/any` (any login),
/// `/admin` (admins), `/mine` (users), `POST /any/echo` (echoes the form it got).
struct AuthTestFeature: WebFeature {
    let authentication: ConsoleAuthentication

    func addRoutes(to router: Router<WebRequestContext>) {
        authentication.addRoutes(to: router)
        router.group().add(middleware: authentication.requireLogin(role: nil))
            .get("/any") { _, context in Self.describe(context) }
            .post("/any/echo") { request, context in
                var request = request
                let body = try await request.collectBody(upTo: 65536)
                return "\(Self.describe(context)) body=\(String(buffer: body))"
            }
        router.group().add(middleware: authentication.requireLogin(role: .admin))
            .get("/admin") { _, context in Self.describe(context) }
        router.group().add(middleware: authentication.requireLogin(role: .user))
            .get("/mine") { _, context in Self.describe(context) }
    }

    /// `NAME ROLE OWNER TOKEN` of the request's identity.
    static func describe(_ context: WebRequestContext) -> String {
        guard let identity = context.identity else { return "anonymous" }
        return "\(identity.name) \(identity.role.rawValue) \(identity.owner ?? "-") \(context.csrfToken ?? "-")"
    }
}

/// Accounts of the test password files (few PBKDF2 iterations, to keep tests quick).
enum TestAccounts {
    static let admin = (name: "root", password: "admin-pass-1")
    static let user = (name: "Bob+Tag@Example.com", password: "user-pass-2")

    /// Writes an admins and a users file into a fresh directory.
    static func writeFiles() throws -> (admins: String, users: String) {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("filterd-auth-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let admins = directory.appendingPathComponent("admins")
        let users = directory.appendingPathComponent("users")
        try "# console admins\n\(admin.name):\(PasswordHash(hashing: admin.password, iterations: 1000))\n"
            .write(to: admins, atomically: true, encoding: .utf8)
        try "\(user.name):\(PasswordHash(hashing: user.password, iterations: 1000))\n"
            .write(to: users, atomically: true, encoding: .utf8)
        return (admins.path, users.path)
    }
}

/// Runs a web server with ``AuthTestFeature`` over password files of ``TestAccounts``.
func withAuthServer(
    clock: ManualClock = ManualClock(),
    configure: (inout ConsoleAuthConfiguration) -> Void = { _ in },
    _ body: (HTTPTestClient) async throws -> Void
) async throws {
    let files = try TestAccounts.writeFiles()
    var configuration = ConsoleAuthConfiguration(
        listener: WebListener(host: "127.0.0.1", port: 0), adminPasswordFile: files.admins, userPasswordFile: files.users)
    configure(&configuration)
    let authentication = ConsoleAuthentication(
        configuration: configuration, logger: Logger(label: "test.auth"), now: { clock.now })
    try await withWebServer(features: [AuthTestFeature(authentication: authentication)], body)
}

extension HTTPTestClient {
    /// The listener's own origin, `http://127.0.0.1:PORT`.
    var origin: String { "http://\(base.host!):\(base.port!)" }

    /// `GET /login` (with `next`) and the form's CSRF token.
    func loginForm(next: String? = nil) async throws -> (response: HTTPTestResponse, token: String) {
        let response = try await get("/login" + (next.map { "?next=" + $0 } ?? ""))
        let token = try #require(Self.hiddenField("csrf_token", in: response.text), "no csrf_token in \(response.text)")
        return (response, token)
    }

    /// Fetches the form and posts it with `username` and `password`.
    func logIn(_ username: String, _ password: String, next: String? = nil) async throws -> HTTPTestResponse {
        let (form, token) = try await loginForm(next: next)
        var fields = ["csrf_token": token, "username": username, "password": password]
        fields["next"] = Self.hiddenField("next", in: form.text)
        return try await post("/login", form: fields)
    }

    /// The session's CSRF token, as `/any` reports it.
    func sessionToken() async throws -> String {
        let response = try await get("/any")
        try #require(response.status == 200, "not logged in: \(response.status)")
        return try #require(response.text.split(separator: " ").last.map(String.init))
    }

    /// The value of the hidden input `name` in a page.
    static func hiddenField(_ name: String, in page: String) -> String? {
        guard let start = page.range(of: "name=\"\(name)\" value=\"") else { return nil }
        let rest = page[start.upperBound...]
        guard let end = rest.firstIndex(of: "\"") else { return nil }
        return String(rest[..<end]).replacingOccurrences(of: "&amp;", with: "&")
    }
}
