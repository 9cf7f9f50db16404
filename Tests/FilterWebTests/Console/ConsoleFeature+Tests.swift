import FilterCore
import FilterEngine
import FilterQuarantine
import Foundation
import Testing

@testable import FilterWeb

@Suite struct ConsoleFeatureTests {
    static let hostileSubject = "<script>alert(1)</script>"
    static let hostileMessage = """
        From: mallory@example.test\r
        To: alice@example.test\r
        Subject: <script>alert(1)</script>\r
        MIME-Version: 1.0\r
        Content-Type: text/html; charset=utf-8\r
        \r
        <html><body><img src=x onerror="alert(2)"><b>click</b></body></html>\r

        """

    /// Runs `body` with a console over a fresh fixture.
    private func withConsole(
        _ configuration: ConsoleConfiguration = .init(), _ body: (HTTPTestClient, ConsoleFixture) async throws -> Void
    ) async throws {
        let fixture = try ConsoleFixture()
        defer { fixture.remove() }
        try await withWebServer(features: fixture.features(configuration)) { client in
            try await body(client, fixture)
        }
    }

    @Test func everyPageNeedsAnIdentity() async throws {
        try await withConsole { client, fixture in
            try await fixture.record(queueID: "Q1", recipient: "alice@example.test")
            try await fixture.quarantine(id: "Q1.0", recipient: "alice@example.test", message: "Subject: x\r\n\r\nbody\r\n")
            for path in ["/", "/messages", "/messages/Q1", "/quarantine", "/quarantine/Q1.0", "/users", "/live"] {
                let response = try await client.get(path)
                #expect(response.status == 401, "\(path)")
                #expect(!response.text.contains("alice@example.test"), "\(path)")
            }
            for path in ["/quarantine/Q1.0/release", "/quarantine/Q1.0/delete"] {
                let response = try await client.post(path, form: ["csrf_token": "x"])
                #expect(response.status == 401, "\(path)")
            }
            #expect(try await fixture.server.quarantine?.entry("Q1.0") != nil)
        }
    }

    @Test func usersPageIsForAdmins() async throws {
        try await withConsole { client, fixture in
            try await fixture.record(queueID: "Q1", recipient: "alice@example.test")
            let forbidden = try await client.get("/users", headers: TestIdentity.user("alice@example.test"))
            #expect(forbidden.status == 403)
            let page = try await client.get("/users", headers: TestIdentity.admin)
            #expect(page.status == 200)
            #expect(page.text.contains("data-owner=\"alice@example.test\""))
            #expect(page.text.contains("not checked since start"))
            #expect(page.text.contains("id=\"nav-users\""))
            let userOverview = try await client.get("/", headers: TestIdentity.user("alice@example.test"))
            #expect(!userOverview.text.contains("id=\"nav-users\""))
        }
    }

    @Test func adminSeesEveryMessageAndUserOnlyTheirOwn() async throws {
        try await withConsole { client, fixture in
            try await fixture.record(queueID: "QALICE", recipient: "alice@example.test", subject: "for alice")
            try await fixture.record(queueID: "QBOB", recipient: "bob@example.test", subject: "for bob")
            for path in ["/", "/messages"] {
                let admin = try await client.get(path, headers: TestIdentity.admin)
                #expect(admin.status == 200)
                #expect(admin.text.contains("<tbody id=\"live-messages\" data-live=\"on\">"))
                #expect(admin.text.contains("<tr data-queue-id=\"QALICE\">"))
                #expect(admin.text.contains("<tr data-queue-id=\"QBOB\">"))
                let alice = try await client.get(path, headers: TestIdentity.user("alice@example.test"))
                #expect(alice.status == 200)
                #expect(alice.text.contains("<tr data-queue-id=\"QALICE\">"))
                #expect(!alice.text.contains("QBOB"))
                #expect(!alice.text.contains("for bob"))
            }
            #expect(try await client.get("/messages/QBOB", headers: TestIdentity.admin).status == 200)
            #expect(try await client.get("/messages/QBOB", headers: TestIdentity.user("alice@example.test")).status == 404)
            #expect(try await client.get("/messages/QNONE", headers: TestIdentity.user("alice@example.test")).status == 404)
            #expect(try await client.get("/messages/QALICE", headers: TestIdentity.user("alice@example.test")).status == 200)
        }
    }

    @Test func navigationAndAssetsFollowTheElementContract() async throws {
        try await withConsole { client, _ in
            let page = try await client.get("/", headers: TestIdentity.admin)
            for id in ["nav-overview", "nav-messages", "nav-quarantine", "nav-users"] {
                #expect(page.text.contains("<a id=\"\(id)\""), "\(id)")
            }
            #expect(page.text.contains("<link rel=\"stylesheet\" href=\"/static/console.css\">"))
            #expect(page.text.contains("<script src=\"/static/console.js\" defer></script>"))
            #expect(!page.text.contains("<script>"))
            #expect(!page.text.contains("onclick"))
            let css = try await client.get("/static/console.css")
            #expect(css.status == 200)
            #expect(css.headers["content-type"]?.hasPrefix("text/css") == true)
            let script = try await client.get("/static/console.js")
            #expect(script.status == 200)
            #expect(script.headers["content-type"]?.hasPrefix("text/javascript") == true)
            #expect(script.text.contains("new EventSource(\"/live\")"))
            #expect(script.text.contains("textContent"))
            #expect(!script.text.contains("innerHTML"))
        }
    }

    @Test func overviewShowsServerStatusToAdminsAndOwnCountsToUsers() async throws {
        try await withConsole { client, fixture in
            try await fixture.record(queueID: "Q1", recipient: "alice@example.test", action: .spam)
            try await fixture.record(queueID: "Q2", recipient: "bob@example.test", action: .spam)
            try await fixture.record(queueID: "Q3", recipient: "bob@example.test", action: .deny, state: "denied")
            let admin = try await client.get("/", headers: TestIdentity.admin)
            #expect(admin.text.contains("<td data-stat=\"hour.spam\">2</td>"))
            #expect(admin.text.contains("<td data-stat=\"day.deny\">1</td>"))
            #expect(admin.text.contains("data-stat=\"queueDepth\">0<"))
            #expect(admin.text.contains("data-stat=\"nextHop\">no attempt yet<"))
            #expect(admin.text.contains("data-stat=\"messagesPerSecond\">0.00<"))
            let alice = try await client.get("/", headers: TestIdentity.user("alice@example.test"))
            #expect(alice.text.contains("<td data-stat=\"hour.spam\">1</td>"))
            #expect(alice.text.contains("<td data-stat=\"day.deny\">0</td>"))
            #expect(!alice.text.contains("data-stat=\"queueDepth\""))
        }
    }

    @Test func searchPagesAndFilters() async throws {
        try await withConsole(ConsoleConfiguration(pageSize: 2)) { client, fixture in
            let start = Date().addingTimeInterval(-100)
            for index in 0..<5 {
                try await fixture.record(
                    queueID: "QS\(index)", recipient: "user\(index)@example.test", action: index == 3 ? .deny : .pass,
                    finishedAt: start.addingTimeInterval(Double(index)))
            }
            let first = try await client.get("/messages", headers: TestIdentity.admin)
            #expect(first.text.contains("QS4") && first.text.contains("QS3") && !first.text.contains("QS2"))
            #expect(first.text.contains("href=\"/messages?page=2\""))
            let second = try await client.get("/messages?page=2", headers: TestIdentity.admin)
            #expect(second.text.contains("QS2") && second.text.contains("QS1") && !second.text.contains("QS4"))
            #expect(second.text.contains("data-live=\"off\""))
            let denied = try await client.get("/messages?action=deny", headers: TestIdentity.admin)
            #expect(denied.text.contains("QS3") && !denied.text.contains("QS4"))
            #expect(denied.text.contains("<option value=\"deny\" selected>"))
            let byRecipient = try await client.get("/messages?q=USER1%40", headers: TestIdentity.admin)
            #expect(byRecipient.text.contains("QS1") && !byRecipient.text.contains("QS2"))
            #expect(byRecipient.text.contains("value=\"USER1@\""))
        }
    }

    @Test func messageDetailShowsDecisionsAndProcessorTraces() async throws {
        try await withConsole { client, fixture in
            try await fixture.record(
                queueID: "QD", recipient: "alice@example.test", action: .spam, processors: [.init(name: "rules", outcome: "continue", ms: 3), .init(name: "spamassassin", outcome: "spam", ms: 41)],
                score: 7.5, tags: ["bulk", "<b>"], reason: "score 7.5 >= 5")
            let page = try await client.get("/messages/QD", headers: TestIdentity.admin)
            #expect(page.status == 200)
            #expect(page.text.contains("<tr><td>spamassassin</td><td>spam</td><td>41</td></tr>"))
            #expect(page.text.contains("<tr><td>rules</td><td>continue</td><td>3</td></tr>"))
            #expect(page.text.contains("7.50"))
            #expect(page.text.contains("bulk, &lt;b&gt;"))
            #expect(page.text.contains("score 7.5 &gt;= 5"))
            #expect(page.text.contains("<dd>client</dd>"))
        }
    }

    @Test func hostileSubjectAndBodyRenderInert() async throws {
        try await withConsole { client, fixture in
            try await fixture.record(queueID: "QX", recipient: "alice@example.test", sender: "\"><script>x()</script>@evil.test", subject: Self.hostileSubject)
            try await fixture.quarantine(id: "QX.0", recipient: "alice@example.test", message: Self.hostileMessage)
            let escaped = "&lt;script&gt;alert(1)&lt;/script&gt;"
            for path in ["/", "/messages", "/messages/QX", "/quarantine", "/quarantine/QX.0"] {
                let page = try await client.get(path, headers: TestIdentity.admin)
                #expect(page.status == 200, "\(path)")
                #expect(!page.text.contains("<script>"), "\(path)")
                #expect(!page.text.contains("<img"), "\(path)")
                #expect(page.text.contains(escaped), "\(path)")
            }
            let view = try await client.get("/quarantine/QX.0", headers: TestIdentity.admin)
            #expect(view.text.contains("&lt;img src=x onerror=&quot;alert(2)&quot;&gt;"))
            #expect(view.text.contains("HTML body (source, not rendered)"))
            #expect(view.headers["content-security-policy"]?.contains("script-src 'self'") == true)
        }
    }

    @Test func quarantineListAndViewAreLimitedToTheOwner() async throws {
        try await withConsole { client, fixture in
            try await fixture.quarantine(id: "QA.0", recipient: "alice@example.test", message: "Subject: for alice\r\n\r\nhello alice\r\n")
            try await fixture.quarantine(id: "QB.0", recipient: "bob@example.test", message: "Subject: for bob\r\n\r\nhello bob\r\n")
            let admin = try await client.get("/quarantine", headers: TestIdentity.admin)
            #expect(admin.text.contains("<tr data-quarantine-id=\"QA.0\">") && admin.text.contains("<tr data-quarantine-id=\"QB.0\">"))
            #expect(admin.text.contains("<button type=\"submit\" class=\"release\">"))
            #expect(admin.text.contains("<input type=\"hidden\" name=\"csrf_token\" value=\"\(TestIdentity.token)\">"))
            #expect(admin.text.contains("for alice"))
            let alice = try await client.get("/quarantine", headers: TestIdentity.user("alice@example.test"))
            #expect(alice.text.contains("<tr data-quarantine-id=\"QA.0\">"))
            #expect(!alice.text.contains("QB.0") && !alice.text.contains("for bob"))
            let view = try await client.get("/quarantine/QA.0", headers: TestIdentity.user("alice@example.test"))
            #expect(view.status == 200)
            #expect(view.text.contains("hello alice"))
            #expect(view.text.contains("Subject: for alice"))
            #expect(try await client.get("/quarantine/QB.0", headers: TestIdentity.user("alice@example.test")).status == 404)
            #expect(try await client.get("/quarantine/QNONE", headers: TestIdentity.admin).status == 404)
        }
    }

    @Test func quarantineViewReadsALargeMessageOnlyInPart() async throws {
        try await withConsole(ConsoleConfiguration(maximumBodyCharacters: 50, maximumMessageBytes: 200)) { client, fixture in
            let body = String(repeating: "0123456789", count: 100)
            try await fixture.quarantine(id: "QL.0", recipient: "alice@example.test", message: "Subject: large\r\n\r\n" + body + "\r\n")
            let view = try await client.get("/quarantine/QL.0", headers: TestIdentity.admin)
            #expect(view.status == 200)
            #expect(view.text.contains("The message has 1020 octets; what follows is read from its first 200."))
            #expect(view.text.contains(String(body.prefix(50)) + "\n[... cut: the rest is not shown]"))
            #expect(!view.text.contains(String(body.prefix(60))))
        }
    }

    @Test func quarantinePagesNewestFirst() async throws {
        try await withConsole(ConsoleConfiguration(pageSize: 2)) { client, fixture in
            for index in 1...3 {
                try await fixture.quarantine(id: "QP\(index).0", recipient: "alice@example.test", message: "Subject: \(index)\r\n\r\nx\r\n")
                try await Task.sleep(for: .milliseconds(20))
            }
            let first = try await client.get("/quarantine", headers: TestIdentity.user("alice@example.test"))
            #expect(first.text.contains("QP3.0") && first.text.contains("QP2.0") && !first.text.contains("QP1.0"))
            #expect(first.text.contains("href=\"/quarantine?page=2\""))
            let second = try await client.get("/quarantine?page=2", headers: TestIdentity.user("alice@example.test"))
            #expect(second.text.contains("QP1.0") && !second.text.contains("QP2.0"))
            #expect(!second.text.contains("page=3"))
        }
    }

    @Test func releaseSpoolsTheMessageAndDeleteRemovesIt() async throws {
        try await withConsole { client, fixture in
            try await fixture.quarantine(id: "QR.0", recipient: "alice@example.test", message: "Subject: release me\r\n\r\nbody\r\n")
            try await fixture.quarantine(id: "QD.0", recipient: "alice@example.test", message: "Subject: delete me\r\n\r\nbody\r\n")
            let store = try #require(fixture.server.quarantine)

            let released = try await client.post(
                "/quarantine/QR.0/release", form: ["csrf_token": TestIdentity.token], headers: TestIdentity.user("alice@example.test"))
            #expect(released.status == 303)
            let location = try #require(released.headers["location"])
            #expect(location.hasPrefix("/quarantine?done=released&id=QR.0&queue="))
            #expect(try await store.entry("QR.0") == nil)
            let spooled = try SpoolInspector(directory: fixture.directory).entries()
            #expect(spooled.count == 1)
            #expect(spooled.first?.envelope.recipients.map(\.address) == ["alice@example.test"])
            #expect(spooled.first?.recipients.first?.decision?.source == .released)
            #expect(location.hasSuffix(spooled.first?.queueID.rawValue ?? "-"))

            let list = try await client.get(location, headers: TestIdentity.user("alice@example.test"))
            #expect(list.text.contains("<p id=\"flash\">Released QR.0: queued for delivery as \(spooled.first?.queueID.rawValue ?? "-").</p>"))
            #expect(!list.text.contains("data-quarantine-id=\"QR.0\""))

            let deleted = try await client.post(
                "/quarantine/QD.0/delete", form: ["csrf_token": TestIdentity.token], headers: TestIdentity.admin)
            #expect(deleted.status == 303)
            #expect(deleted.headers["location"] == "/quarantine?done=deleted&id=QD.0")
            #expect(try await store.entry("QD.0") == nil)
            let afterDelete = try await client.get("/quarantine?done=deleted&id=QD.0", headers: TestIdentity.admin)
            #expect(afterDelete.text.contains("<p id=\"flash\">Deleted QD.0 from the quarantine.</p>"))
            #expect(try await client.post("/quarantine/QD.0/delete", form: [:], headers: TestIdentity.admin).status == 404)
        }
    }

    @Test func userCannotReleaseOrDeleteAnotherOwnersEntry() async throws {
        try await withConsole { client, fixture in
            try await fixture.quarantine(id: "QB.0", recipient: "bob@example.test", message: "Subject: bob's\r\n\r\nbody\r\n")
            let alice = TestIdentity.user("alice@example.test")
            #expect(try await client.post("/quarantine/QB.0/release", form: ["csrf_token": TestIdentity.token], headers: alice).status == 404)
            #expect(try await client.post("/quarantine/QB.0/delete", form: ["csrf_token": TestIdentity.token], headers: alice).status == 404)
            #expect(try await fixture.server.quarantine?.entry("QB.0") != nil)
            #expect(try SpoolInspector(directory: fixture.directory).entries().isEmpty)
        }
    }

    @Test func flashTextComesFromTheServerNotTheLink() async throws {
        try await withConsole { client, _ in
            let crafted = try await client.get("/quarantine?done=anything&id=x", headers: TestIdentity.admin)
            #expect(!crafted.text.contains("id=\"flash\""))
            // Only ids fill the fixed text: a link with words (or markup) in them shows nothing.
            let words = try await client.get("/quarantine?done=released&id=Your%20account%20is%20locked&queue=x", headers: TestIdentity.admin)
            #expect(!words.text.contains("id=\"flash\""))
            let hostile = try await client.get("/quarantine?done=deleted&id=%3Cscript%3E", headers: TestIdentity.admin)
            #expect(!hostile.text.contains("id=\"flash\""))
            let real = try await client.get("/quarantine?done=deleted&id=8DtsFDUDpRKhBT8.0", headers: TestIdentity.admin)
            #expect(real.text.contains("<p id=\"flash\">Deleted 8DtsFDUDpRKhBT8.0 from the quarantine.</p>"))
        }
    }
}
