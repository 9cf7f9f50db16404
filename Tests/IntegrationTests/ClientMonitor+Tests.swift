import Foundation
import Testing

/// The client monitor of the real `filterd client --monitor`, read with curl as an operator
/// would: `/metrics` before and after mail went through Postfix → `filterd server` → RabbitMQ
/// → the client, and the monitor page behind the client's broker credentials.
///
/// It scrapes the client's `/metrics`, not the server's: `filterd server` gets its web listener
/// in another branch; the server's counters are covered in FilterWebTests through the same
/// registry and route.
@Suite("Client monitor and /metrics", .enabled(if: Repository.integrationEnabled), .serialized)
struct ClientMonitorTests {
    @Test("curl against the client's /metrics shows the counters moving; the page shows the decision escaped")
    func metricsMoveAndThePageShowsDecisions() async throws {
        try await BrokerFixture.withFixture { fixture in
            let owner = try await fixture.addOwner("monitor")
            let port = try freePort()
            try await FilterClientProcess.withRunning({
                try await .swift(broker: fixture.broker, credentials: owner, block: ["@spam.example"], monitorPort: port)
            }) { client in
                try await waitUntilListening(port: port)
                let before = try await Self.curl(port: port, path: "/metrics")
                try await FilterChain.withRunningChain(filtering: fixture.filtering(deadline: 30)) { postfix, filterd in
                    let token = UUID().uuidString
                    try await Swaks.send(
                        port: postfix.smtpPort, from: "bulk@spam.example", to: [owner.user],
                        subject: "<script>alert('\(token)')</script>"
                    ).requireSuccess()
                    try await filterd.waitForLog(containing: "Denied; discarded")
                    try await Swaks.send(port: postfix.smtpPort, from: "friend@example.test", to: [owner.user], subject: "hello \(token)")
                        .requireSuccess()
                    _ = try await postfix.waitForMaildir(user: localPart(owner.user), count: 1)
                    try await filterd.waitForEmptySpool()

                    let after = try await Self.curl(port: port, path: "/metrics")
                    #expect(Self.value("filterd_client_requests_total", in: after) - Self.value("filterd_client_requests_total", in: before) == 2)
                    let deny = #"filterd_client_decisions_total{action="deny"}"#
                    let pass = #"filterd_client_decisions_total{action="pass"}"#
                    #expect(Self.value(deny, in: after) - Self.value(deny, in: before) == 1)
                    #expect(Self.value(pass, in: after) - Self.value(pass, in: before) == 1)
                    #expect(Self.value("filterd_client_pipeline_duration_seconds_count", in: after) >= 2)

                    let anonymous = try await ProcessRunner.run(
                        "curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}", "http://127.0.0.1:\(port)/"])
                    #expect(anonymous.standardOutput == "401")
                    let page = try await ProcessRunner.run(
                        "curl", ["-s", "-f", "-u", "\(owner.user):\(owner.password)", "http://127.0.0.1:\(port)/"])
                    try page.requireSuccess()
                    #expect(page.standardOutput.contains("&lt;script&gt;alert(&#39;\(token)&#39;)&lt;/script&gt;"))
                    #expect(!page.standardOutput.contains("<script>alert"))
                    #expect(page.standardOutput.contains("hello \(token)"))
                    #expect(page.standardOutput.contains(#"<dd class="state-connected">connected</dd>"#))
                    #expect(!page.standardOutput.contains(owner.password))
                    #expect(client.logLines(containing: "Web listener ready").count == 1)
                }
            }
        }
    }

    /// `GET path` on the monitor with curl; fails on an HTTP error.
    private static func curl(port: UInt16, path: String) async throws -> String {
        let result = try await ProcessRunner.run("curl", ["-s", "-f", "http://127.0.0.1:\(port)\(path)"])
        try result.requireSuccess()
        return result.standardOutput
    }

    /// The value of the sample `series` (`name` or `name{labels}`) in a text exposition; 0
    /// when absent (a counter not incremented yet).
    private static func value(_ series: String, in exposition: String) -> Double {
        exposition.split(separator: "\n").first { $0.hasPrefix(series + " ") }
            .flatMap { Double($0.dropFirst(series.count + 1)) } ?? 0
    }
}
