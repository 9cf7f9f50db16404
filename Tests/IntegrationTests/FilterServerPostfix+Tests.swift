import Foundation
import Testing

/// `filterd server` between real Postfix servers (and smtp-sink), driven by swaks,
/// smtp-source, Python's smtplib and raw sockets: the mail flow of docs/postfix.md end to end.
@Suite("filterd server with Postfix", .enabled(if: Repository.integrationEnabled))
struct FilterServerPostfixTests {
    // MARK: - The full chain

    @Test("a message crosses Postfix → filterd → Postfix unchanged apart from trace headers, with XFORWARD")
    func fullChainPreservesMessage() async throws {
        try await FilterChain.withRunningChain { postfix, filterd in
            let token = UUID().uuidString
            let sentHeader = [
                "Date: Thu, 01 Jan 2026 12:00:00 +0000",
                "From: Sender <sender@example.test>",
                "To: Alice <alice@example.test>",
                "Subject: full chain \(token)",
                "Message-ID: <\(token)@example.test>",
                "MIME-Version: 1.0",
                "Content-Type: text/plain; charset=utf-8",
                "Content-Transfer-Encoding: 8bit",
                "X-Folded: first part",
                "\tsecond part, folded",
                "X-Test-Token: \(token)",
            ].joined(separator: "\n")
            let sentBody = [
                "First line of the body.",
                ".a line that starts with a dot",
                "..and one with two dots",
                "  indented, with trailing white space \t",
                "",
                "Grüße aus dem 8-bit-Text: äöü €",
                "From the middle of a line",
                "last line",
            ].joined(separator: "\n") + "\n"
            let dataFile = filterd.spoolDirectory.deletingLastPathComponent().appendingPathComponent("message.eml")
            // swaks ends the last line itself (and would add an empty line after a final
            // line break), so the file holds the body without its final line break.
            try Data((sentHeader + "\n\n" + sentBody.dropLast()).utf8).write(to: dataFile)

            try await Swaks.run([
                "--server", "127.0.0.1:\(postfix.smtpPort)",
                "--from", "sender@example.test",
                "--to", "alice@example.test",
                "--helo", "swaks.example.test",
                "--data", "@\(dataFile.path)",
            ]).requireSuccess()

            let delivered = try #require(try await postfix.waitForMaildir(user: "alice", count: 1).first)
            let deliveredBytes = try Data(contentsOf: delivered.url)
            let separator = try #require(deliveredBytes.firstRange(of: Data("\n\n".utf8)))
            let deliveredHeader = String(decoding: deliveredBytes[..<separator.lowerBound], as: UTF8.self)
            #expect(deliveredBytes[separator.upperBound...] == Data(sentBody.utf8))

            let traceFields: Set<String> = ["received", "return-path", "delivered-to", "x-original-to"]
            let deliveredFields = headerFields(deliveredHeader).filter { !traceFields.contains($0.name.lowercased()) }
            #expect(deliveredFields.map(\.raw) == headerFields(sentHeader).map(\.raw))

            let filterdReceived = delivered.headerValues("Received").filter {
                $0.contains("by \(filterd.hostname) (filterd)")
            }
            #expect(filterdReceived.count == 1)

            let reinjected = try await postfix.waitForLog(containing: "orig_client=")
            #expect(reinjected.contains("postfix/reinject/smtpd"))
            #expect(reinjected.contains("orig_client=localhost[127.0.0.1]"))
        }
    }

    @Test("20 messages from smtp-source in 4 sessions all arrive through the chain")
    func fullChainCarriesLoad() async throws {
        try await FilterChain.withRunningChain { postfix, filterd in
            try await SMTPSource.send(
                port: postfix.smtpPort, messageCount: 20, sessionCount: 4, to: "bulk@example.test"
            ).requireSuccess()

            let delivered = try await postfix.waitForMaildir(user: "bulk", count: 20, timeout: .seconds(60))
            try await filterd.waitForEmptySpool()
            #expect(delivered.count == 20)
            #expect(try postfix.deliveredMessages(user: "bulk").count == 20)
        }
    }

    // MARK: - Envelope parameters

    @Test("DSN parameters (RET, ENVID, NOTIFY, ORCPT) reach the next hop")
    func dsnParametersSurvive() async throws {
        let sink = try await SMTPSink()
        do {
            try await FilterdProcess.withRunning(nextHopPort: sink.port) { filterd in
                let envid = "envid-\(UUID().uuidString)"
                try await PythonSMTPClient.send(
                    port: filterd.listenPort,
                    from: "sender@example.test",
                    to: ["dana@example.test"],
                    mailParameters: ["RET=HDRS", "ENVID=\(envid)"],
                    recipientParameters: ["NOTIFY=SUCCESS,DELAY", "ORCPT=rfc822;original-dana@example.test"],
                    message: "Subject: dsn parameters\r\n\r\nbody\r\n"
                ).requireSuccess()

                // smtp-sink completes its file before its 250, after which filterd empties its spool.
                _ = try await sink.waitForMessages(count: 1)
                try await filterd.waitForEmptySpool()
                let message = try #require(try sink.messages().first)
                let mailArguments = try #require(message.headerValue("X-Mail-Args"))
                let recipientArguments = try #require(message.headerValue("X-Rcpt-Args"))
                #expect(mailArguments.contains("RET=HDRS"))
                #expect(mailArguments.contains("ENVID=\(envid)"))
                #expect(recipientArguments.hasPrefix("<dana@example.test>"))
                #expect(recipientArguments.contains("NOTIFY=SUCCESS,DELAY"))
                #expect(recipientArguments.contains("ORCPT=rfc822;original-dana@example.test"))
            }
        } catch {
            await sink.stop()
            throw error
        }
        await sink.stop()
    }

    // MARK: - SMTP smuggling

    /// End-of-data look-alikes that must not end the content (CVE-2023-51766 and relatives).
    static let smugglingProbes: [(name: String, bytes: String)] = [
        ("LF.LF", "\n.\n"), ("CR.CR", "\r.\r"), ("LF.CRLF", "\n.\r\n"),
        ("CRLF.LF", "\r\n.\n"), ("CRLF.CR", "\r\n.\r"), ("CR.CRLF", "\r.\r\n"),
    ]

    @Test("a smuggled transaction after a fake end-of-data stays content of the real message")
    func smugglingProbesStayContent() async throws {
        try await FilterChain.withRunningChain { postfix, filterd in
            let connection = try RawSMTPConnection(port: filterd.listenPort)
            #expect(try await connection.readReply().code == 220)
            try await connection.command("EHLO smuggler.example.test", expecting: 250)
            for (index, probe) in Self.smugglingProbes.enumerated() {
                try await connection.command("MAIL FROM:<sender@example.test>", expecting: 250)
                try await connection.command("RCPT TO:<victim@example.test>", expecting: 250)
                try await connection.command("DATA", expecting: 354)
                try await connection.send(
                    "Subject: probe \(index) \(probe.name)\r\n\r\nreal body \(index)"
                        + probe.bytes
                        + "MAIL FROM:<attacker@example.test>\r\n"
                        + "RCPT TO:<smuggled@example.test>\r\n"
                        + "DATA\r\n"
                        + "Subject: smuggled \(index)\r\n\r\n"
                        + "smuggled body \(index)\r\n.\r\n"
                )
                let reply = try await connection.readReply()
                #expect(reply.code == 250, "probe \(probe.name): \(reply)")
            }
            try await connection.command("QUIT", expecting: 221)

            let count = Self.smugglingProbes.count
            let delivered = try await postfix.waitForMaildir(user: "victim", count: count)
            try await filterd.waitForEmptySpool()
            // The reinjection server would have queued a smuggled message by now; give its
            // delivery agent a moment more before concluding that none exists.
            try await Task.sleep(for: .seconds(2))
            #expect(try postfix.deliveredMessages(user: "victim").count == count)
            #expect(try postfix.deliveredMessages(user: "smuggled").isEmpty)
            #expect(!postfix.log().contains("to=<smuggled@example.test>"))
            for (index, probe) in Self.smugglingProbes.enumerated() {
                let message = delivered.first { $0.headerValue("Subject") == "probe \(index) \(probe.name)" }
                let contents = try #require(message?.contents, "probe \(probe.name) not delivered")
                #expect(contents.contains("real body \(index)"), "probe \(probe.name)")
                #expect(contents.contains("MAIL FROM:<attacker@example.test>"), "probe \(probe.name)")
                #expect(contents.contains("RCPT TO:<smuggled@example.test>"), "probe \(probe.name)")
                #expect(contents.contains("smuggled body \(index)"), "probe \(probe.name)")
            }
        }
    }

    // MARK: - Retries

    @Test("messages accepted while the next hop is down are deferred, then all delivered when it is up")
    func nextHopDownThenUp() async throws {
        let nextHopPort = try freePort()
        try await FilterdProcess.withRunning(nextHopPort: nextHopPort) { filterd in
            for index in 0..<5 {
                let result = try await Swaks.send(
                    port: filterd.listenPort, to: ["erin@example.test"], subject: "deferred \(index)")
                    .requireSuccess()
                #expect(queuedID(in: result.standardOutput) != nil)
            }
            let listing = try await waitForListing(filterd, timeout: .seconds(20)) { listing in
                listing.contains("5 message(s) in the spool")
                    && listing.components(separatedBy: "<erin@example.test>:deferred").count == 6
            }
            #expect(Filterctl.queueIDs(inListing: listing).count == 5)

            let sink = try await SMTPSink(port: nextHopPort)
            do {
                _ = try await sink.waitForMessages(count: 5, timeout: .seconds(30))
                try await filterd.waitForEmptySpool()
                let delivered = try sink.messages()
                #expect(Set(delivered.compactMap { $0.headerValue("Subject") }) == Set((0..<5).map { "deferred \($0)" }))
            } catch {
                await sink.stop()
                throw error
            }
            await sink.stop()
        }
    }

    // MARK: - Delivery status notifications

    /// Creates the chain with a reinjection server that rejects `rejected@example.test` at RCPT
    /// with 554 5.7.1, the permanent failure filterd must report itself.
    private func withRejectingChain(
        _ body: (PostfixInstance, FilterdProcess) async throws -> Void
    ) async throws {
        try await FilterChain.withRunningChain(configure: { postfix in
            let table = postfix.configDirectory.appendingPathComponent("rejected_recipients")
            try "rejected@example.test REJECT rejected by the filterd test\n"
                .write(to: table, atomically: true, encoding: .utf8)
            try await postfix.setReinjectOption(
                "smtpd_recipient_restrictions",
                "check_recipient_access,texthash:\(table.path),permit_mynetworks,reject")
        }, body)
    }

    @Test("a 5xx from the next hop makes filterd send a DSN that reaches the sender's mailbox")
    func permanentFailureSendsDSN() async throws {
        try await withRejectingChain { postfix, filterd in
            let subject = "will bounce \(UUID().uuidString)"
            try await Swaks.send(
                port: postfix.smtpPort, from: "frank@example.test", to: ["rejected@example.test"], subject: subject
            ).requireSuccess()

            let dsn = try #require(try await postfix.waitForMaildir(user: "frank", count: 1).first)
            try await filterd.waitForEmptySpool()
            // pipe(8) writes the null sender as <MAILER-DAEMON>; Postfix's log shows the
            // envelope: the DSN is the only message with the null sender in this test.
            #expect(dsn.headerValue("Return-Path") == "<MAILER-DAEMON>")
            #expect(postfix.log().contains("from=<>"))
            #expect(dsn.headerValue("Content-Type")?.hasPrefix("multipart/report") == true)
            #expect(dsn.contents.contains("Reporting-MTA: dns; \(filterd.hostname)"))
            #expect(dsn.contents.contains("Final-Recipient: rfc822;rejected@example.test"))
            #expect(dsn.contents.contains("Action: failed"))
            #expect(dsn.contents.contains("Status: 5.7.1"))
            #expect(dsn.contents.contains(subject))
            #expect(try postfix.deliveredMessages(user: "rejected").isEmpty)
            #expect(filterd.log.contains("DSN queued"))
        }
    }

    @Test("no DSN for a null sender or for NOTIFY=NEVER")
    func suppressedDSNs() async throws {
        try await withRejectingChain { postfix, filterd in
            try await Swaks.send(
                port: postfix.smtpPort, from: "<>", to: ["rejected@example.test"], subject: "null sender"
            ).requireSuccess()
            try await PythonSMTPClient.send(
                port: postfix.smtpPort,
                from: "grace@example.test",
                to: ["rejected@example.test"],
                recipientParameters: ["NOTIFY=NEVER"],
                message: "From: grace@example.test\r\nSubject: notify never\r\n\r\nbody\r\n"
            ).requireSuccess()

            let deadline = ContinuousClock.now + .seconds(30)
            while filterd.logLines(containing: "No DSN sent: suppressed by the DSN rules").count < 2,
                ContinuousClock.now < deadline
            {
                try await Task.sleep(for: .milliseconds(100))
            }
            let suppressed = filterd.logLines(containing: "No DSN sent: suppressed by the DSN rules")
            #expect(suppressed.count == 2)
            #expect(suppressed.contains { $0.contains("mail.from=<>") })
            #expect(suppressed.contains { $0.contains("mail.from=<grace@example.test>") })
            try await filterd.waitForEmptySpool()
            // A DSN would be spooled before the failure is recorded and then delivered within
            // a second or two; wait a little longer than that before concluding there is none.
            try await Task.sleep(for: .seconds(3))
            let mailboxes = (try? FileManager.default.contentsOfDirectory(atPath: postfix.maildirRoot.path)) ?? []
            let delivered = try mailboxes.flatMap { try postfix.deliveredMessages(user: $0) }
            #expect(delivered.isEmpty, "delivered: \(delivered.map(\.url.path))")
            #expect(try postfix.deliveredMessages(user: "grace").isEmpty)
            #expect(!filterd.log.contains("DSN queued"))
        }
    }

    // MARK: - Graceful shutdown

    @Test("on SIGTERM a message in DATA still gets 250 and is delivered, an idle session gets 421, filterd exits 0")
    func sigtermFinishesOpenMessage() async throws {
        let sink = try await SMTPSink()
        let filterd = try await FilterdProcess(nextHopPort: sink.port)
        do {
            let sending = try RawSMTPConnection(port: filterd.listenPort)
            #expect(try await sending.readReply().code == 220)
            try await sending.command("EHLO sender.example.test", expecting: 250)
            try await sending.command("MAIL FROM:<sender@example.test>", expecting: 250)
            try await sending.command("RCPT TO:<henry@example.test>", expecting: 250)
            try await sending.command("DATA", expecting: 354)
            try await sending.send("Subject: interrupted by SIGTERM\r\n\r\nfirst half\r\n")

            let idle = try RawSMTPConnection(port: filterd.listenPort)
            #expect(try await idle.readReply().code == 220)
            try await idle.command("EHLO idle.example.test", expecting: 250)

            // The first session is in DATA (354 answered, part of the content sent); the
            // second waits for a command.
            filterd.terminate()
            let goodbye = try await idle.readReply()
            #expect(goodbye.code == 421)
            #expect(await idle.isClosedByServer())

            try await sending.send("second half\r\n.\r\n")
            let queued = try await sending.readReply()
            #expect(queued.code == 250)
            #expect(queued.text.contains("queued as"))

            _ = try await sink.waitForMessages(count: 1, timeout: .seconds(10))
            let result = try await filterd.process.waitForExit(timeout: .seconds(10))
            #expect(result.exitStatus == 0, "filterd log:\n\(result.standardError)")
            // filterd removes a message only after the next hop's 250, which smtp-sink sends
            // once its file is complete: an empty spool means the file can be read.
            let listing = try await filterd.filterctl(["list"]).requireSuccess().standardOutput
            #expect(listing.contains("0 message(s) in the spool"))
            let delivered = try #require(try sink.messages().first)
            #expect(delivered.contents.contains("first half"))
            #expect(delivered.contents.contains("second half"))
        } catch {
            let log = filterd.log
            await filterd.stopAndRemoveFiles()
            await sink.stop()
            throw HarnessError(code: .processFailed, message: "\(error)\nfilterd log:\n\(log)")
        }
        await filterd.stopAndRemoveFiles()
        await sink.stop()
    }
}

/// One header field: its name and its raw text, continuation lines included.
struct HeaderField: Equatable {
    /// The field name as written.
    let name: String
    /// The whole field, folded lines joined with `\n`.
    let raw: String
}

/// Splits a header section (lines ending in `\n`, no final empty line) into fields.
/// - Parameter header: The header section.
func headerFields(_ header: String) -> [HeaderField] {
    var fields: [HeaderField] = []
    for line in header.split(separator: "\n", omittingEmptySubsequences: false) {
        if let first = line.first, first == " " || first == "\t", let last = fields.popLast() {
            fields.append(HeaderField(name: last.name, raw: last.raw + "\n" + line))
        } else {
            let name = line.prefix { $0 != ":" }
            fields.append(HeaderField(name: String(name), raw: String(line)))
        }
    }
    return fields
}

/// Polls `filterctl spool list` until `accept` returns true for its output.
/// - Parameters:
///   - filterd: The server whose spool to list.
///   - timeout: How long to wait.
///   - accept: Decides whether the listing is the awaited one.
/// - Returns: The accepted listing.
/// - Throws: `HarnessError.Code.timedOut` with the last listing.
@discardableResult
func waitForListing(
    _ filterd: FilterdProcess,
    timeout: Duration,
    until accept: (String) -> Bool
) async throws -> String {
    let deadline = ContinuousClock.now + timeout
    while true {
        let listing = try await filterd.filterctl(["list"]).requireSuccess().standardOutput
        if accept(listing) {
            return listing
        }
        guard ContinuousClock.now < deadline else {
            throw HarnessError(code: .timedOut, message: "filterctl spool list after \(timeout):\n\(listing)")
        }
        try await Task.sleep(for: .milliseconds(200))
    }
}
