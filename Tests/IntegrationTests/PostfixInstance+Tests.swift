import Foundation
import Testing

/// Smoke tests of the private Postfix instance the other integration tests build on.
@Suite("PostfixInstance", .enabled(if: Repository.integrationEnabled), .serialized)
struct PostfixInstanceTests {
    @Test("without a filter, mail to example.test lands in the recipient's Maildir")
    func directPathDeliversToMaildir() async throws {
        try await PostfixInstance.withRunningInstance(filter: false) { postfix in
            let subject = "direct path \(UUID().uuidString)"
            try await Swaks.send(port: postfix.smtpPort, to: ["alice@example.test"], subject: subject)
                .requireSuccess()

            let messages = try await postfix.waitForMaildir(user: "alice", count: 1)
            #expect(messages.count == 1)
            #expect(messages.first?.headerValue("Subject") == subject)
            #expect(messages.first?.url.deletingLastPathComponent().lastPathComponent == "new")
            #expect(messages.first?.headerValue("Delivered-To") == "alice@example.test")
        }
    }

    @Test("with the filter, Postfix hands mail to the filter port and does not deliver it itself")
    func filterPathHandsMailToFilterPort() async throws {
        let sink = try await SMTPSink()
        do {
            try await PostfixInstance.withRunningInstance(filter: true, filterPort: sink.port) { postfix in
                let subject = "filter path \(UUID().uuidString)"
                try await Swaks.send(port: postfix.smtpPort, to: ["bob@example.test"], subject: subject)
                    .requireSuccess()

                let line = try await postfix.waitForLog(containing: "relay=127.0.0.1[127.0.0.1]:\(sink.port)")
                #expect(line.contains("to=<bob@example.test>"))
                #expect(line.contains("status=sent"))
                let received = try await sink.waitForMessages(count: 1)
                #expect(received.first?.headerValue("Subject") == subject)
                #expect(received.first?.headerValue("X-Rcpt-Args")?.hasPrefix("<bob@example.test>") == true)
                #expect(try postfix.deliveredMessages(user: "bob").isEmpty)
            }
        } catch {
            await sink.stop()
            throw error
        }
        await sink.stop()
    }

    @Test("the reinjection port accepts XFORWARD from 127.0.0.1 and delivers without filtering again")
    func reinjectionPortAcceptsXForward() async throws {
        try await PostfixInstance.withRunningInstance(filter: true) { postfix in
            let subject = "reinjected \(UUID().uuidString)"
            try await XForwardClient.send(
                port: postfix.reinjectPort,
                attributes: [("NAME", "client.example"), ("ADDR", "192.0.2.9")],
                to: ["carol@example.test"],
                subject: subject
            )
            .requireSuccess()

            let messages = try await postfix.waitForMaildir(user: "carol", count: 1)
            #expect(messages.first?.headerValue("Subject") == subject)
            let line = try await postfix.waitForLog(containing: "orig_client=client.example[192.0.2.9]")
            #expect(line.contains("postfix/reinject/smtpd"))
            #expect(!postfix.log().contains(":\(postfix.filterPort)"))
        }
    }
}

/// docs/postfix.md quotes the filter wiring that `scripts/postfix-instance.sh` uses;
/// this keeps the two identical. Runs without `FILTER_INTEGRATION`.
@Suite("Postfix documentation")
struct PostfixDocumentationTests {
    @Test("docs/postfix.md quotes the snippet verbatim", arguments: [
        "scripts/postfix/main.cf.filter", "scripts/postfix/master.cf.filter",
    ])
    func documentationQuotesSnippet(path: String) throws {
        let snippet = try String(contentsOf: Repository.root.appendingPathComponent(path), encoding: .utf8)
        let documentation = try String(
            contentsOf: Repository.root.appendingPathComponent("docs/postfix.md"),
            encoding: .utf8
        )
        let marker = "<!-- snippet: \(path) -->\n```\n"
        let start = try #require(documentation.range(of: marker), "docs/postfix.md lacks \(marker)")
        let rest = documentation[start.upperBound...]
        let end = try #require(rest.range(of: "```\n"), "unterminated code block after \(marker)")
        #expect(String(rest[..<end.lowerBound]) == snippet)
    }
}
