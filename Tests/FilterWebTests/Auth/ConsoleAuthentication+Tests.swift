import FilterQueue
import FilterWeb
import Foundation
import Testing

@Suite struct ConsoleAuthenticationTests {
    let admin = TestAccounts.admin
    let user = TestAccounts.user

    // MARK: The login form

    @Test func loginPageIsAFormWithAPreSessionToken() async throws {
        try await withAuthServer { (client: HTTPTestClient) async throws in
            let (response, token) = try await client.loginForm()
            #expect(response.status == 200)
            for part in [#"name="username""#, #"name="password""#, #"type="password""#, #"id="login""#, #"action="/login""#] {
                #expect(response.text.contains(part), "\(part)")
            }
            #expect(!response.text.contains("<script>") && !response.text.contains("onclick"))
            #expect(client.cookies["filterd_login"] == token)
            let setCookie = try #require(response.headers["set-cookie"])
            #expect(setCookie.contains("HttpOnly") && setCookie.contains("SameSite=Strict") && setCookie.contains("Path=/login"))
            #expect(!setCookie.contains("Secure"), "a loopback listener gets no Secure under auto")
        }
    }

    @Test func nextIsKeptAsAHiddenFieldEscaped() async throws {
        try await withAuthServer { (client: HTTPTestClient) async throws in
            let (response, _) = try await client.loginForm(next: "/any%3Fq%3D%22x%22")
            #expect(response.text.contains(#"name="next" value="/any?q=&quot;x&quot;""#), "\(response.text)")
        }
    }

    // MARK: Logging in

    @Test func adminLogsInWithANewSessionCookieAndIsRedirectedHome() async throws {
        try await withAuthServer { (client: HTTPTestClient) async throws in
            let response = try await client.logIn(admin.name, admin.password)
            #expect(response.status == 303)
            #expect(response.headers["location"] == "/")
            let setCookie = try #require(response.headers["set-cookie"])
            #expect(setCookie.contains("filterd_session="))
            for attribute in ["HttpOnly", "SameSite=Strict", "Path=/"] {
                #expect(setCookie.contains(attribute), "\(attribute) in \(setCookie)")
            }
            #expect(client.cookies["filterd_session"]?.count == 43, "256 random bits in Base64url")
            #expect(client.cookies["filterd_login"] == nil, "the login cookie is expired")
            let page = try await client.get("/any")
            #expect(page.status == 200)
            #expect(page.text.hasPrefix("root admin - "))
            #expect(try await client.get("/admin").status == 200)
        }
    }

    @Test func secureCookiesWhenConfigured() async throws {
        try await withAuthServer(configure: { $0.cookieSecure = .always }) { (client: HTTPTestClient) async throws in
            let response = try await client.logIn(admin.name, admin.password)
            #expect(response.status == 303)
            #expect(response.headers["set-cookie"]?.contains("Secure") == true)
        }
    }

    @Test func userFromTheUsersFileGetsRoleUserAndTheCanonicalOwner() async throws {
        try await withAuthServer { (client: HTTPTestClient) async throws in
            #expect(try await client.logIn("bob+tag@example.com", user.password).status == 303)
            let page = try await client.get("/any")
            #expect(page.text.hasPrefix("Bob+Tag@Example.com user bob@example.com "), "\(page.text)")
            #expect(try await client.get("/mine").status == 200)
        }
    }

    @Test(arguments: [
        ("/any?x=1", "/any?x=1"), ("//evil.example/x", "/"), ("https://evil.example/", "/"), ("/\\evil.example", "/"),
        ("any", "/"),
    ])
    func redirectsOnlyToLocalPaths(next: String, expected: String) async throws {
        try await withAuthServer { (client: HTTPTestClient) async throws in
            let (_, token) = try await client.loginForm()
            let response = try await client.post(
                "/login", form: ["csrf_token": token, "username": admin.name, "password": admin.password, "next": next])
            #expect(response.status == 303)
            #expect(response.headers["location"] == expected)
        }
    }

    @Test func nextFromTheQueryTravelsThroughTheForm() async throws {
        try await withAuthServer { (client: HTTPTestClient) async throws in
            let response = try await client.logIn(admin.name, admin.password, next: "/admin%3Fpage%3D2")
            #expect(response.headers["location"] == "/admin?page=2")
        }
    }

    @Test(arguments: [("root", "wrong"), ("nobody", "admin-pass-1"), ("root", ""), ("", "")])
    func wrongCredentialsGetTheFormAgainWith401(username: String, password: String) async throws {
        try await withAuthServer { (client: HTTPTestClient) async throws in
            let response = try await client.logIn(username, password)
            #expect(response.status == 401)
            #expect(response.text.contains("Wrong user name or password."))
            #expect(response.text.contains(#"id="login""#))
            #expect(client.cookies["filterd_session"] == nil)
            #expect(try await client.get("/any").status == 401)
        }
    }

    @Test func adminPasswordIsNotAUserPassword() async throws {
        try await withAuthServer { (client: HTTPTestClient) async throws in
            #expect(try await client.logIn(user.name, admin.password).status == 401)
        }
    }

    // MARK: The login form's CSRF

    @Test func loginWithoutOrWithAMismatchedOrForgedTokenIs403() async throws {
        try await withAuthServer { (client: HTTPTestClient) async throws in
            let credentials = ["username": admin.name, "password": admin.password]
            _ = try await client.loginForm()
            #expect(try await client.post("/login", form: credentials).status == 403)
            let (_, token) = try await client.loginForm()
            var fields = credentials
            fields["csrf_token"] = token + "x"
            #expect(try await client.post("/login", form: fields).status == 403)
            // Double submit with a token this server never signed.
            let forged = "99999999999.AAAA.BBBB"
            fields["csrf_token"] = forged
            let response = try await client.request(
                "POST", "/login", headers: ["Cookie": "filterd_login=\(forged)"], form: fields)
            #expect(response.status == 403)
            #expect(response.text.contains("expired"))
            #expect(client.cookies["filterd_session"] == nil)
        }
    }

    @Test func anExpiredLoginFormIsRefused() async throws {
        let clock = ManualClock()
        try await withAuthServer(clock: clock) { (client: HTTPTestClient) async throws in
            let (_, token) = try await client.loginForm()
            clock.advance(by: .seconds(3601))
            let response = try await client.post("/login", form: ["csrf_token": token, "username": admin.name, "password": admin.password])
            #expect(response.status == 403)
        }
    }

    @Test func loginFromAForeignOriginIsRefused() async throws {
        try await withAuthServer { (client: HTTPTestClient) async throws in
            let (_, token) = try await client.loginForm()
            let response = try await client.post(
                "/login", form: ["csrf_token": token, "username": admin.name, "password": admin.password],
                headers: ["Origin": "http://evil.example"])
            #expect(response.status == 403)
            #expect(client.cookies["filterd_session"] == nil)
        }
    }

    // MARK: requireLogin

    @Test func browsersWithoutSessionAreSentToLoginOthersGet401() async throws {
        try await withAuthServer { (client: HTTPTestClient) async throws in
            let browser = try await client.get("/admin?page=2", headers: ["Accept": "text/html,application/xhtml+xml"])
            #expect(browser.status == 303)
            #expect(browser.headers["location"] == "/login?next=/admin%3Fpage%3D2")
            let api = try await client.get("/admin", headers: ["Accept": "application/json"])
            #expect(api.status == 401)
            #expect(try await client.request("POST", "/any/echo", form: ["a": "b"]).status == 401)
        }
    }

    @Test func aUserIsForbiddenAdminPagesAndAnAdminUserPages() async throws {
        try await withAuthServer { (client: HTTPTestClient) async throws in
            #expect(try await client.logIn(user.name, user.password).status == 303)
            #expect(try await client.get("/admin").status == 403)
            #expect(try await client.get("/admin", headers: ["Accept": "text/html"]).status == 403)
            client.clearCookies()
            #expect(try await client.logIn(admin.name, admin.password).status == 303)
            #expect(try await client.get("/mine").status == 403)
        }
    }

    // MARK: CSRF on unsafe requests

    @Test func unsafeRequestsNeedTheSessionsToken() async throws {
        try await withAuthServer { (client: HTTPTestClient) async throws in
            #expect(try await client.logIn(admin.name, admin.password).status == 303)
            let token = try await client.sessionToken()
            #expect(try await client.post("/any/echo", form: ["a": "1"]).status == 403)
            #expect(try await client.post("/any/echo", form: ["a": "1", "csrf_token": token.uppercased() + "x"]).status == 403)
            #expect(try await client.post("/any/echo", form: ["a": "1", "csrf_token": ""]).status == 403)
            let good = try await client.post("/any/echo", form: ["a": "1 2", "csrf_token": token])
            #expect(good.status == 200)
            #expect(good.text.contains("body=a=1+2&csrf_token="), "the handler sees the whole form: \(good.text)")
            let viaHeader = try await client.request(
                "POST", "/any/echo", headers: ["X-CSRF-Token": token, "Content-Type": "application/json"], body: Data(#"{"a":1}"#.utf8))
            #expect(viaHeader.status == 200)
            #expect(viaHeader.text.hasSuffix(#"body={"a":1}"#))
            let wrongHeader = try await client.request(
                "DELETE", "/any/echo", headers: ["X-CSRF-Token": "nope"])
            #expect(wrongHeader.status == 403)
            #expect(try await client.request("PUT", "/any/echo", form: ["csrf_token": "nope"]).status == 403)
        }
    }

    @Test func aForeignOriginIsRefusedEvenWithTheToken() async throws {
        try await withAuthServer { (client: HTTPTestClient) async throws in
            #expect(try await client.logIn(admin.name, admin.password).status == 303)
            let token = try await client.sessionToken()
            for origin in ["http://evil.example", "null", "http://127.0.0.1:1", "https://127.0.0.1.evil.example"] {
                let response = try await client.post("/any/echo", form: ["csrf_token": token], headers: ["Origin": origin])
                #expect(response.status == 403, "\(origin)")
            }
            #expect(try await client.post("/any/echo", form: ["csrf_token": token], headers: ["Origin": client.origin]).status == 200)
        }
    }

    @Test func aTrustedOriginIsAccepted() async throws {
        try await withAuthServer(configure: { $0.trustedOrigins = ["https://mail.example.com"] }) { (client: HTTPTestClient) async throws in
            #expect(try await client.logIn(admin.name, admin.password).status == 303)
            let token = try await client.sessionToken()
            let response = try await client.post("/any/echo", form: ["csrf_token": token], headers: ["Origin": "https://mail.example.com"])
            #expect(response.status == 200)
        }
    }

    // MARK: Logout

    @Test func logoutNeedsTheTokenThenEndsTheSession() async throws {
        try await withAuthServer { (client: HTTPTestClient) async throws in
            #expect(try await client.logIn(admin.name, admin.password).status == 303)
            let session = try #require(client.cookies["filterd_session"])
            let token = try await client.sessionToken()
            #expect(try await client.post("/logout", form: [:]).status == 403)
            #expect(try await client.post("/logout", form: ["csrf_token": token], headers: ["Origin": "http://evil.example"]).status == 403)
            #expect(try await client.get("/any").status == 200, "a refused logout leaves the session")
            let response = try await client.post("/logout", form: ["csrf_token": token])
            #expect(response.status == 303)
            #expect(response.headers["location"] == "/login")
            #expect(response.headers["set-cookie"]?.contains("Max-Age=0") == true)
            #expect(client.cookies["filterd_session"] == nil)
            let replay = try await client.get("/any", headers: ["Cookie": "filterd_session=\(session)"])
            #expect(replay.status == 401, "the server forgot the session")
        }
    }

    // MARK: Expiry

    @Test func sessionsExpireWhenIdleAndSlideWhileUsed() async throws {
        let clock = ManualClock()
        try await withAuthServer(clock: clock) { (client: HTTPTestClient) async throws in
            #expect(try await client.logIn(admin.name, admin.password).status == 303)
            clock.advance(by: .seconds(20 * 60))
            #expect(try await client.get("/any").status == 200)
            clock.advance(by: .seconds(20 * 60))
            #expect(try await client.get("/any").status == 200, "40 minutes after login, 20 after the last request")
            clock.advance(by: .seconds(30 * 60))
            let response = try await client.get("/any")
            #expect(response.status == 401)
            #expect(response.headers["set-cookie"]?.contains("filterd_session=;") == true, "the stale cookie is expired")
        }
    }

    @Test func sessionsEndAtTheAbsoluteLifetimeHoweverBusy() async throws {
        let clock = ManualClock()
        try await withAuthServer(clock: clock, configure: { $0.absoluteLifetime = .seconds(3600) }) { (client: HTTPTestClient) async throws in
            #expect(try await client.logIn(admin.name, admin.password).status == 303)
            for _ in 0..<2 {
                clock.advance(by: .seconds(25 * 60))
                #expect(try await client.get("/any").status == 200)
            }
            clock.advance(by: .seconds(10 * 60 + 1))
            #expect(try await client.get("/any").status == 401)
        }
    }

    // MARK: Fixation

    @Test func everyLoginGetsANewSessionIdAndEndsThePreviousOne() async throws {
        try await withAuthServer { (client: HTTPTestClient) async throws in
            let planted = String(repeating: "A", count: 43)
            let (_, token) = try await client.loginForm()
            let response = try await client.request(
                "POST", "/login", headers: ["Cookie": "filterd_login=\(token); filterd_session=\(planted)"],
                form: ["csrf_token": token, "username": admin.name, "password": admin.password])
            #expect(response.status == 303)
            let first = try #require(client.cookies["filterd_session"])
            #expect(first != planted)

            #expect(try await client.logIn(admin.name, admin.password).status == 303)
            let second = try #require(client.cookies["filterd_session"])
            #expect(second != first)
            #expect(try await client.get("/any").status == 200)
            #expect(try await client.get("/any", headers: ["Cookie": "filterd_session=\(first)"]).status == 401)
            #expect(try await client.get("/any", headers: ["Cookie": "filterd_session=\(planted)"]).status == 401)
        }
    }

    // MARK: Rate limit

    @Test func repeatedFailuresForOneUserGet429WithRetryAfter() async throws {
        let clock = ManualClock()
        try await withAuthServer(clock: clock, configure: { $0.rateLimit.failuresPerAddress = 100 }) { (client: HTTPTestClient) async throws in
            for _ in 0..<5 {
                #expect(try await client.logIn(admin.name, "wrong").status == 401)
            }
            let limited = try await client.logIn(admin.name, admin.password)
            #expect(limited.status == 429)
            let retryAfter = try #require(limited.headers["retry-after"].flatMap { Int($0) })
            #expect((1...300).contains(retryAfter))
            #expect(limited.text.contains("Too many failed logins"))
            #expect(try await client.logIn(user.name, user.password).status == 303, "other names are not limited")
            client.clearCookies()
            clock.advance(by: .seconds(301))
            #expect(try await client.logIn(admin.name, admin.password).status == 303)
        }
    }

    @Test func repeatedFailuresFromOneAddressGet429() async throws {
        try await withAuthServer { (client: HTTPTestClient) async throws in
            for attempt in 0..<5 {
                #expect(try await client.logIn("guess\(attempt)", "wrong").status == 401)
            }
            let limited = try await client.logIn(admin.name, admin.password)
            #expect(limited.status == 429)
            #expect(limited.headers["retry-after"] != nil)
        }
    }

    @Test func aLimitOfZeroIsOff() async throws {
        try await withAuthServer(configure: { $0.rateLimit.failuresPerAddress = 0; $0.rateLimit.failuresPerUser = 0 }) {
            (client: HTTPTestClient) async throws in
            for _ in 0..<7 {
                #expect(try await client.logIn(admin.name, "wrong").status == 401)
            }
            #expect(try await client.logIn(admin.name, admin.password).status == 303)
        }
    }

    @Test func aSuccessfulLoginClearsTheUsersCount() async throws {
        try await withAuthServer(configure: { $0.rateLimit.failuresPerAddress = 100 }) { (client: HTTPTestClient) async throws in
            for _ in 0..<4 {
                #expect(try await client.logIn(admin.name, "wrong").status == 401)
            }
            #expect(try await client.logIn(admin.name, admin.password).status == 303)
            for _ in 0..<4 {
                #expect(try await client.logIn(admin.name, "wrong").status == 401)
            }
            #expect(try await client.logIn(admin.name, admin.password).status == 303)
        }
    }

    @Test func parallelAttemptsCannotSlipUnderTheLimit() async throws {
        try await withAuthServer(configure: { $0.rateLimit.failuresPerAddress = 100 }) { (client: HTTPTestClient) async throws in
            let (_, token) = try await client.loginForm()
            let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
                for _ in 0..<20 {
                    group.addTask {
                        try await client.post("/login", form: ["csrf_token": token, "username": admin.name, "password": "wrong"]).status
                    }
                }
                return try await group.reduce(into: [Int]()) { $0.append($1) }
            }
            #expect(statuses.filter { $0 == 401 }.count == 5, "\(statuses.sorted())")
            #expect(statuses.filter { $0 == 429 }.count == 15)
        }
    }

    @Test func aFormLargerThanTheLimitIs413() async throws {
        try await withAuthServer(configure: { $0.maximumFormBytes = 1024 }) { (client: HTTPTestClient) async throws in
            #expect(try await client.logIn(admin.name, admin.password).status == 303)
            let token = try await client.sessionToken()
            let response = try await client.post("/any/echo", form: ["csrf_token": token, "big": String(repeating: "x", count: 2000)])
            #expect(response.status == 413)
        }
    }

    // MARK: Sources that cannot answer

    @Test func anUnreachableBrokerIs503() async throws {
        let broker = try AMQPURL("amqp://127.0.0.1:1/%2F?connection_timeout=2000")
        try await withAuthServer(configure: { $0.brokerLogin = broker }) { (client: HTTPTestClient) async throws in
            let response = try await client.logIn("carol@example.com", "whatever")
            #expect(response.status == 503)
            #expect(response.text.contains("Cannot check credentials now"))
            #expect(try await client.logIn(admin.name, admin.password).status == 303, "the password files still work")
        }
    }

    /// The broker reads user names as C strings: a name with a NUL (or any control character)
    /// must fail without being sent, or "alice@x\0N" would log in as alice@x under a rate-limit
    /// key of its own for every N. The broker here is unreachable: asking it would be a 503.
    @Test func aUserNameWithControlCharactersIsRefusedWithoutAskingTheBroker() async throws {
        let broker = try AMQPURL("amqp://127.0.0.1:1/%2F?connection_timeout=2000")
        try await withAuthServer(configure: { $0.brokerLogin = broker }) { (client: HTTPTestClient) async throws in
            #expect(try await client.logIn("carol@example.com\u{0}1", "whatever").status == 401)
            #expect(try await client.logIn("carol@example.com\n", "whatever").status == 401)
        }
    }

    @Test func anUnreadablePasswordFileIs503() async throws {
        try await withAuthServer(configure: { $0.adminPasswordFile = "/nonexistent/filterd-admins" }) { (client: HTTPTestClient) async throws in
            #expect(try await client.logIn(admin.name, admin.password).status == 503)
        }
    }
}
