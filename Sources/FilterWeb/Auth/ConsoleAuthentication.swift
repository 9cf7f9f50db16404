import FilterCore
import FilterQueue
import Foundation
import Hummingbird
import Logging
import NIOPosix

/// Login, sessions and CSRF protection of the server console (docs/console-auth.md).
///
/// As a ``WebFeature`` it adds its routes (`GET`/`POST /login`, `POST /logout`) and its
/// ``sessionMiddleware()``, in front of every route of the listener; page groups are then
/// guarded with ``requireLogin(role:)``:
///
/// ```swift
/// authentication.addRoutes(to: router)
/// router.group("/admin").add(middleware: authentication.requireLogin(role: .admin))
/// ```
///
/// Credentials come from, in this order, the admins password file (role admin), the users
/// password file (role user) and an AMQP login to the broker (role user). The first password
/// file that lists a name decides alone; a name neither file lists goes to the broker.
public struct ConsoleAuthentication: WebFeature {
    /// The session cookie's name.
    public static let sessionCookie = "filterd_session"
    /// The login form's pre-session CSRF cookie's name.
    public static let loginCookie = "filterd_login"
    /// The form field that carries the CSRF token.
    public static let csrfField = "csrf_token"
    /// The header that carries the CSRF token (for script and API clients).
    public static let csrfHeader = "X-CSRF-Token"
    /// The longest user name accepted, in bytes (longer ones fail like wrong names).
    public static let maximumUserNameBytes = 512

    /// The configuration.
    public let configuration: ConsoleAuthConfiguration
    private let logger: Logger
    private let now: @Sendable () -> ContinuousClock.Instant
    private let sessions: ConsoleSessionStore
    private let limiter: LoginRateLimiter
    private let formTokens: LoginFormTokens

    /// Creates the console's authentication; sessions and failure counts start empty.
    /// - Parameters:
    ///   - configuration: Sources, lifetimes, cookie and rate-limit settings.
    ///   - logger: Where logins, failures and unusable sources are logged.
    ///   - now: The clock of session expiry, form tokens and rate limits (tests move it).
    public init(
        configuration: ConsoleAuthConfiguration, logger: Logger,
        now: @escaping @Sendable () -> ContinuousClock.Instant = { .now }
    ) {
        self.configuration = configuration
        self.logger = logger
        self.now = now
        self.sessions = ConsoleSessionStore(
            idleTimeout: configuration.idleTimeout, absoluteLifetime: configuration.absoluteLifetime)
        self.limiter = LoginRateLimiter(limit: configuration.rateLimit)
        self.formTokens = LoginFormTokens(lifetime: configuration.loginFormLifetime, reference: now())
    }

    // MARK: Routes

    /// Adds `GET /login` (the form), `POST /login` (checks credentials, starts a session) and
    /// `POST /logout` (CSRF-checked; ends the session).
    public func addRoutes(to router: Router<WebRequestContext>) {
        router.add(middleware: sessionMiddleware())
        router.get("/login") { request, _ in
            loginPage(next: Self.localPath(request.uri.queryParameters.get("next")), message: nil, status: .ok)
        }
        router.post("/login") { request, context in
            try await login(request, context: context)
        }
        router.post("/logout") { request, _ in
            try await logout(request)
        }
    }

    private func login(_ request: Request, context: WebRequestContext) async throws -> Response {
        guard originAllowed(request) else {
            return Self.errorPage(.forbidden, "This request came from another site.")
        }
        var request = request
        let fields = FormFields(try await request.collectBody(upTo: configuration.maximumFormBytes))
        let next = Self.localPath(fields["next"])
        let cookieToken = request.cookies[Self.loginCookie]?.value ?? ""
        let formToken = fields[Self.csrfField] ?? ""
        guard !formToken.isEmpty, ConstantTime.equal(formToken, cookieToken), formTokens.isValid(formToken, now: now()) else {
            return loginPage(next: next, message: "The login form had expired. Please try again.", status: .forbidden)
        }
        let username = fields["username"] ?? ""
        let password = fields["password"] ?? ""
        let address = context.remoteAddress?.ipAddress ?? "unknown"
        // What the rate limit counts and the log shows: bounded, one line.
        let countedName = String(decoding: username.utf8.prefix(Self.maximumUserNameBytes), as: UTF8.self).singleLine
        let attempted = now()
        if let wait = limiter.admit(address: address, user: countedName, now: attempted) {
            let seconds = max(1, (wait + .milliseconds(999)).components.seconds)
            logger.info(
                "console login refused: too many failures",
                metadata: ["web.login.user": "\(countedName)", "web.client.address": "\(address)"])
            var response = loginPage(
                next: next, message: "Too many failed logins. Try again in \(seconds) seconds.", status: .tooManyRequests)
            response.headers[.retryAfter] = String(seconds)
            return response
        }
        let identity: WebIdentity?
        do {
            identity = try await authenticate(username: username, password: password)
        } catch {
            limiter.retract(address: address, user: countedName, at: attempted)
            logger.error("console login cannot check credentials", metadata: ["error": "\(error)"])
            return loginPage(next: next, message: "Cannot check credentials now. Please try again later.", status: .serviceUnavailable)
        }
        guard let identity else {
            logger.info(
                "console login failed", metadata: ["web.login.user": "\(countedName)", "web.client.address": "\(address)"])
            return loginPage(next: next, message: "Wrong user name or password.", status: .unauthorized)
        }
        limiter.retract(address: address, user: countedName, at: attempted)
        limiter.clear(user: countedName)
        if let previous = request.cookies[Self.sessionCookie]?.value {
            sessions.remove(previous)
        }
        let id = sessions.create(for: identity, now: now())
        logger.info(
            "console login",
            metadata: [
                "web.login.user": "\(identity.name.singleLine)", "web.login.role": "\(identity.role.rawValue)",
                "web.client.address": "\(address)",
            ])
        var response = Self.redirect(to: next ?? "/")
        response.setCookie(cookie(Self.sessionCookie, value: id, maxAge: nil, path: "/"))
        response.setCookie(cookie(Self.loginCookie, value: "", maxAge: 0, path: "/login"))
        return response
    }

    private func logout(_ request: Request) async throws -> Response {
        var request = request
        if let id = request.cookies[Self.sessionCookie]?.value, let session = sessions.session(id, now: now()) {
            guard try await unsafeRequestAllowed(&request, session: session) else {
                return Self.errorPage(.forbidden, "This request lacks the console's CSRF token or came from another site.")
            }
            sessions.remove(id)
            logger.info("console logout", metadata: ["web.login.user": "\(session.identity.name.singleLine)"])
        }
        var response = Self.redirect(to: "/login")
        response.setCookie(cookie(Self.sessionCookie, value: "", maxAge: 0, path: "/"))
        return response
    }

    // MARK: Credentials

    /// Checks a user name and password against the configured sources.
    ///
    /// Password hashing and file reading run on NIO's thread pool, the broker login on a
    /// thread of its own: never on an event loop.
    /// - Returns: The identity, or `nil` for a wrong name or password (whichever source said so).
    /// - Throws: ``ConsoleAuthError`` when a source cannot answer: a password file that cannot
    ///   be read or parsed, or a broker that cannot be reached.
    public func authenticate(username: String, password: String) async throws(ConsoleAuthError) -> WebIdentity? {
        guard !username.isEmpty, username.utf8.count <= Self.maximumUserNameBytes, !password.isEmpty else { return nil }
        // No control characters: the broker reads the name as a C string, so "alice@x\0N" would
        // log in as alice@x while the rate limiter counted a name of its own for every N.
        guard !username.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7f }) else { return nil }
        if let path = configuration.adminPasswordFile, let entry = try await Self.entry(for: username, in: path) {
            return await Self.matches(entry.hash, password) ? WebIdentity(name: entry.name, role: .admin) : nil
        }
        if let path = configuration.userPasswordFile, let entry = try await Self.entry(for: username, in: path) {
            guard await Self.matches(entry.hash, password) else { return nil }
            return WebIdentity(name: entry.name, role: .user, owner: configuration.ownerResolver.owner(of: entry.name))
        }
        if let broker = configuration.brokerLogin {
            // Only mail addresses: the broker also knows filterd's own users and its administrator.
            guard username.contains("@") else { return nil }
            do {
                guard try await BrokerCredentialCheck(broker: broker).verify(user: username, password: password) else { return nil }
            } catch {
                throw ConsoleAuthError(.sourceUnavailable, "cannot check credentials with the broker: \(error)")
            }
            // The broker user is the owner address itself (filterctl user add names it so).
            return WebIdentity(name: username, role: .user, owner: username)
        }
        // As much work as a listed name costs, so the answer's timing does not say which names exist.
        _ = await Self.matches(Self.unknownUserHash, password)
        return nil
    }

    private static let unknownUserHash = PasswordHash(
        iterations: PasswordHash.defaultIterations, salt: Array(repeating: 0, count: PasswordHash.saltLength),
        hash: Array(repeating: 0, count: PasswordHash.hashLength))

    private static func entry(for username: String, in path: String) async throws(ConsoleAuthError) -> PasswordFile.Entry? {
        let loaded: Result<PasswordFile, ConsoleAuthError>
        do {
            loaded = try await NIOThreadPool.singleton.runIfActive {
                do throws(ConsoleAuthError) { return .success(try PasswordFile.load(path: path)) } catch { return .failure(error) }
            }
        } catch {
            throw ConsoleAuthError(.unreadableFile, "cannot read the password file \(path): \(error)")
        }
        return try loaded.get().entry(for: username)
    }

    private static func matches(_ hash: PasswordHash, _ password: String) async -> Bool {
        (try? await NIOThreadPool.singleton.runIfActive { hash.matches(password) }) ?? false
    }

    // MARK: Middleware

    /// Reads the session cookie and, for a live session, sets `context.identity` and
    /// `context.csrfToken` (restarting the idle timer). For a logged-in session every unsafe
    /// method (POST, PUT, PATCH, DELETE) must carry the session's CSRF token, in the form field
    /// `csrf_token` of an `application/x-www-form-urlencoded` body or in the header
    /// `X-CSRF-Token`, and any `Origin` header must be the console's own; otherwise 403.
    ///
    /// A form body is collected to read the token and handed on in full, so handlers read it as
    /// usual. `POST /login` is left to its own check (the login form's token). A cookie naming
    /// no live session is expired in the response.
    public func sessionMiddleware() -> some RouterMiddleware<WebRequestContext> {
        SessionMiddleware(authentication: self)
    }

    /// Lets only logged-in identities through: without one a browser (`Accept: text/html`) is
    /// sent to `/login?next=PATH` (303) and any other client gets 401; an identity of another
    /// role than `role` gets 403. `role` `nil` admits every logged-in identity.
    public func requireLogin(role: WebIdentity.Role?) -> some RouterMiddleware<WebRequestContext> {
        RequireLogin(role: role)
    }

    struct SessionMiddleware: RouterMiddleware {
        typealias Context = WebRequestContext
        let authentication: ConsoleAuthentication

        func handle(
            _ request: Request, context: Context, next: (Request, Context) async throws -> Response
        ) async throws -> Response {
            guard let id = request.cookies[ConsoleAuthentication.sessionCookie]?.value, !id.isEmpty else {
                return try await next(request, context)
            }
            guard let session = authentication.sessions.session(id, now: authentication.now()) else {
                var response = try await next(request, context)
                // Unless the handler set a new session (a login), the stale cookie goes.
                let prefix = ConsoleAuthentication.sessionCookie + "="
                if !response.headers[values: .setCookie].contains(where: { $0.hasPrefix(prefix) }) {
                    response.setCookie(authentication.cookie(ConsoleAuthentication.sessionCookie, value: "", maxAge: 0, path: "/"))
                }
                return response
            }
            var request = request
            if Self.isUnsafe(request.method), request.uri.path != "/login" {
                guard try await authentication.unsafeRequestAllowed(&request, session: session) else {
                    authentication.logger.info(
                        "console request refused: CSRF token or origin",
                        metadata: ["web.login.user": "\(session.identity.name.singleLine)", "web.path": "\(request.uri.path)"])
                    return ConsoleAuthentication.errorPage(
                        .forbidden, "This request lacks the console's CSRF token or came from another site.")
                }
            }
            var context = context
            context.identity = session.identity
            context.csrfToken = session.csrfToken
            let (sessions, now) = (authentication.sessions, authentication.now)
            context.sessionIsLive = { sessions.isLive(id, now: now()) }
            return try await next(request, context)
        }

        static func isUnsafe(_ method: HTTPRequest.Method) -> Bool {
            method == .post || method == .put || method == .patch || method == .delete
        }
    }

    // MARK: Checks

    /// Whether an unsafe request of `session` carries its CSRF token and no foreign `Origin`;
    /// collects a form body into `request` to read the token.
    private func unsafeRequestAllowed(_ request: inout Request, session: ConsoleSession) async throws -> Bool {
        guard originAllowed(request) else { return false }
        let token: String
        if let header = request.headers[.init(Self.csrfHeader)!] {
            token = header
        } else if FormFields.isForm(request) {
            token = FormFields(try await request.collectBody(upTo: configuration.maximumFormBytes))[Self.csrfField] ?? ""
        } else {
            token = ""
        }
        return !token.isEmpty && ConstantTime.equal(token, session.csrfToken)
    }

    /// Whether the request has no `Origin`, or the console's own (`http://` or `https://` and
    /// the request's `Host`), or a configured trusted one.
    private func originAllowed(_ request: Request) -> Bool {
        guard let origin = request.headers[.origin]?.lowercased() else { return true }
        if configuration.trustedOrigins.contains(where: { $0.lowercased() == origin }) { return true }
        guard let host = request.head.authority?.lowercased(), !host.isEmpty else { return false }
        return origin == "http://\(host)" || origin == "https://\(host)"
    }

    /// `text` when it is a path on this listener (one leading `/`, no scheme, host or control
    /// characters), else `nil`: `next` never leads to another site.
    static func localPath(_ text: String?) -> String? {
        guard let text, text.hasPrefix("/"), !text.hasPrefix("//"), !text.hasPrefix("/\\") else { return nil }
        guard !text.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7f || $0 == "\\" }) else { return nil }
        return text
    }

    // MARK: Responses

    private func loginPage(next: String?, message: String?, status: HTTPResponse.Status) -> Response {
        let token = formTokens.make(now: now())
        var body = "<main class=\"login\"><h1>filterd console</h1>"
        if let message { body += "<p class=\"error\" role=\"alert\">\(HTML.escape(message))</p>" }
        body += "<form method=\"post\" action=\"/login\">"
        body += "<input type=\"hidden\" name=\"\(Self.csrfField)\" value=\"\(HTML.escape(token))\">"
        if let next { body += "<input type=\"hidden\" name=\"next\" value=\"\(HTML.escape(next))\">" }
        body += "<p><label for=\"username\">User name</label> "
        body += "<input id=\"username\" name=\"username\" autocomplete=\"username\" required autofocus></p>"
        body += "<p><label for=\"password\">Password</label> "
        body += "<input id=\"password\" type=\"password\" name=\"password\" autocomplete=\"current-password\" required></p>"
        body += "<p><button type=\"submit\" id=\"login\">Log in</button></p></form></main>"
        var response = HTML.document(title: "Log in — filterd", body: body, status: status)
        response.setCookie(cookie(Self.loginCookie, value: token, maxAge: Int(configuration.loginFormLifetime.components.seconds), path: "/login"))
        return response
    }

    private func cookie(_ name: String, value: String, maxAge: Int?, path: String) -> Cookie {
        Cookie(
            name: name, value: value, maxAge: maxAge, path: path, secure: configuration.cookiesAreSecure, httpOnly: true,
            sameSite: .strict)
    }

    static func redirect(to location: String) -> Response {
        Response(status: .seeOther, headers: [.location: location, .cacheControl: "no-store"])
    }

    static func errorPage(_ status: HTTPResponse.Status, _ message: String) -> Response {
        HTML.document(title: status.reasonPhrase, body: "<main><h1>\(HTML.escape(status.reasonPhrase))</h1><p>\(HTML.escape(message))</p></main>", status: status)
    }
}
