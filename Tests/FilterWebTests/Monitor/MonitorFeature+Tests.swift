import FilterCore
import FilterEngine
import FilterQueue
import FilterWeb
import Foundation
import Testing

/// The client monitor over HTTP: Basic authentication with the client's broker credentials,
/// the page's decisions (mail-derived values escaped), statistics and connection state.
@Suite struct MonitorFeatureTests {
    static let credentials = MonitorFeature.Credentials(user: "alice@example.com", password: "broker-pa55")

    static func feature(_ monitor: ClientMonitor, state: BrokerConnectionState? = nil) -> MonitorFeature {
        let state = state ?? BrokerConnectionState(status: .connected, since: Date(timeIntervalSince1970: 1_790_000_000))
        return MonitorFeature(
            monitor: monitor, owner: "alice@example.com", broker: "amqp://alice%40example.com:***@127.0.0.1:5672/%2F",
            credentials: credentials, connection: { state })
    }

    static func basic(_ user: String, _ password: String) -> [String: String] {
        ["Authorization": "Basic " + Data("\(user):\(password)".utf8).base64EncodedString()]
    }

    static func answer(subject: String, action: FilterAction, reason: String, trace: [FilterReply.ProcessorTrace]) -> ClientAnswer {
        let envelope = Envelope(mailFrom: "mallory@evil.example", recipients: [EnvelopeRecipient(address: "alice@example.com")])
        let metadata = FilterRequestMetadata(
            requestID: "r-1", queueID: QueueID.generate(at: Date()), received: Date(), deadline: Date().addingTimeInterval(60),
            envelope: envelope, recipient: envelope.recipients[0], owner: "alice@example.com", size: 100, truncated: false)
        return ClientAnswer(
            decidedAt: Date(), request: metadata, subject: subject,
            reply: FilterReply(id: "r-1", action: action, reason: reason, processors: trace), pipelineDuration: .milliseconds(3))
    }

    /// Read over a plain connection: URLSession on Linux hangs on a Basic challenge it cannot
    /// answer (see ``RawHTTPRequest``).
    @Test func refusesRequestsWithoutTheRightCredentials() async throws {
        try await withWebServer(features: [Self.feature(ClientMonitor())]) { client in
            let port = try #require(client.base.port)
            let anonymous = try await RawHTTPRequest.get(port: port, "/")
            #expect(anonymous.status == 401)
            #expect(anonymous.headers["www-authenticate"] == #"Basic realm="filterd client", charset="UTF-8""#)
            #expect(!anonymous.body.contains("alice@example.com"))
            let refused: [[String: String]] = [
                Self.basic("alice@example.com", "wrong"),
                Self.basic("bob@example.com", "broker-pa55"),
                Self.basic("alice@example.com", "broker-pa55x"),
                Self.basic("alice@example.com", ""),
                ["Authorization": "Basic not-base64!"],
                ["Authorization": "Bearer broker-pa55"],
            ]
            for headers in refused {
                #expect(try await RawHTTPRequest.get(port: port, "/", headers: headers).status == 401, "\(headers)")
            }
            let granted = try await client.get("/", headers: Self.basic("alice@example.com", "broker-pa55"))
            #expect(granted.status == 200)
            #expect(granted.text.contains("No request decided yet."))
        }
    }

    @Test func showsDecisionsEscapedWithStatisticsAndConnection() async throws {
        let monitor = ClientMonitor()
        monitor.clientDecided(
            Self.answer(
                subject: "<script>alert('x')</script> win", action: .deny, reason: "blocked <b>sender</b>",
                trace: [.init(name: "sender-list", outcome: "deny", ms: 4)]))
        monitor.clientDecided(
            Self.answer(
                subject: "hello", action: .pass, reason: "",
                trace: [.init(name: "sender-list", outcome: "continue", ms: 2), .init(name: "spamassassin", outcome: "timeout", ms: 30000)]))
        let since = Date(timeIntervalSince1970: 1_790_000_000)
        let state = BrokerConnectionState(status: .reconnecting, since: since, lastError: "connection <refused>")
        try await withWebServer(features: [Self.feature(monitor, state: state)]) { client in
            let page = try await client.get("/", headers: Self.basic("alice@example.com", "broker-pa55"))
            #expect(page.status == 200)
            #expect(page.headers["content-type"] == "text/html; charset=utf-8")
            #expect(page.headers["refresh"] == "\(MonitorFeature.refreshSeconds)")
            #expect(page.headers["content-security-policy"]?.contains("script-src 'self'") == true)
            let html = page.text
            #expect(!html.contains("<script>alert"))
            #expect(html.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; win"))
            #expect(html.contains("blocked &lt;b&gt;sender&lt;/b&gt;"))
            #expect(!html.contains("<b>sender</b>"))
            #expect(html.contains("mallory@evil.example"))
            #expect(html.contains("sender-list: deny, 4 ms"))
            #expect(html.contains("spamassassin: timeout, 30000 ms"))
            // Newest first.
            let newest = try #require(html.range(of: "hello"))
            let oldest = try #require(html.range(of: "&lt;script&gt;"))
            #expect(newest.lowerBound < oldest.lowerBound)
            // Statistics: sender-list ran twice, decided once, mean 3 ms; spamassassin timed out.
            #expect(html.contains("<tr><td>sender-list</td><td>2</td><td>1</td><td>0</td><td>0</td><td>3.0</td></tr>"))
            #expect(html.contains("<tr><td>spamassassin</td><td>1</td><td>0</td><td>0</td><td>1</td><td>30000.0</td></tr>"))
            #expect(html.contains("2 requests decided since"))
            #expect(html.contains("deny 1, pass 1"))
            // Connection: state, since, broker without password, last error escaped.
            #expect(html.contains(#"<dd class="state-reconnecting">reconnecting</dd>"#))
            #expect(html.contains(since.formatted(.iso8601)))
            #expect(html.contains("amqp://alice%40example.com:***@127.0.0.1:5672/%2F"))
            #expect(!html.contains("broker-pa55"))
            #expect(html.contains("connection &lt;refused&gt;"))

            let stylesheet = try await client.get("/static/monitor.css")
            #expect(stylesheet.status == 200)
            #expect(stylesheet.headers["content-type"] == "text/css; charset=utf-8")
        }
    }
}
