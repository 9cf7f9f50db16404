import FilterCore
import FilterSMTP
import NIOCore
import Testing

/// A state machine with the parser in front, as the session drives it.
private struct Harness {
    var machine: SMTPServerStateMachine

    init(
        allowsXForward: Bool = true,
        configure: (inout SMTPServerStateMachine.Configuration) -> Void = { _ in }
    ) {
        var configuration = SMTPServerStateMachine.Configuration(hostname: "filter.test")
        configure(&configuration)
        machine = SMTPServerStateMachine(configuration: configuration, peerAddress: "127.0.0.1", allowsXForward: allowsXForward)
    }

    /// Parses the line and feeds the result to the machine.
    mutating func send(_ line: String) -> SMTPServerStateMachine.Action {
        do throws(SMTPError) {
            return machine.commandReceived(try SMTPCommandParser().parse(Array(line.utf8)))
        } catch {
            return machine.commandRejected(error)
        }
    }

    /// Greets and says EHLO.
    mutating func start(ehlo: Bool = true) {
        _ = machine.sessionStarted()
        _ = send(ehlo ? "EHLO postfix.test" : "HELO postfix.test")
    }

    /// Runs MAIL, RCPT and DATA up to the open content phase; returns the envelope handed to the
    /// spool.
    mutating func openContent(mail: String = "MAIL FROM:<s@x.example>", rcpts: [String] = ["RCPT TO:<r@y.example>"]) -> Envelope? {
        _ = send(mail)
        for rcpt in rcpts { _ = send(rcpt) }
        guard case .startMessage(let envelope) = send("DATA") else { return nil }
        guard case .beginContent = machine.messageStarted() else { return nil }
        return envelope
    }
}

private func reply(_ action: SMTPServerStateMachine.Action) -> ExpectedReply? {
    switch action {
    case .sendReply(let reply), .sendReplyAndClose(let reply), .beginContent(let reply), .abortMessage(let reply):
        ExpectedReply(reply)
    case .none, .startMessage, .storeContent, .commitMessage, .discardMessage:
        nil
    }
}

private func closes(_ action: SMTPServerStateMachine.Action) -> Bool {
    if case .sendReplyAndClose = action { return true }
    return false
}

@Suite("SMTPServerStateMachine")
struct SMTPServerStateMachineTests {
    @Test("greeting names the filter's own host")
    func greeting() {
        var harness = Harness()
        #expect(harness.machine.sessionStarted() == .sendReply(SMTPReply(code: 220, lines: ["filter.test ESMTP filterd"])))
    }

    @Test("EHLO offers the extensions, XFORWARD only to authorized peers")
    func ehloKeywords() {
        var authorized = Harness(allowsXForward: true) { $0.maximumMessageSize = 1000 }
        _ = authorized.machine.sessionStarted()
        #expect(
            authorized.send("EHLO postfix.test")
                == .sendReply(
                    SMTPReply(
                        code: 250,
                        lines: [
                            "filter.test", "PIPELINING", "SIZE 1000", "8BITMIME", "SMTPUTF8", "ENHANCEDSTATUSCODES", "DSN",
                            "XFORWARD NAME ADDR PORT PROTO HELO IDENT SOURCE",
                        ])))
        var stranger = Harness(allowsXForward: false) { $0.maximumMessageSize = 1000 }
        _ = stranger.machine.sessionStarted()
        #expect(
            stranger.send("EHLO postfix.test")
                == .sendReply(
                    SMTPReply(
                        code: 250,
                        lines: ["filter.test", "PIPELINING", "SIZE 1000", "8BITMIME", "SMTPUTF8", "ENHANCEDSTATUSCODES", "DSN"])))
        #expect(stranger.send("HELO postfix.test") == .sendReply(SMTPReply(code: 250, lines: ["filter.test"])))
    }

    @Test("commands out of order get 503, DATA without recipients 554")
    func orderErrors() {
        var harness = Harness()
        _ = harness.machine.sessionStarted()
        #expect(reply(harness.send("MAIL FROM:<s@x.example>")) == ExpectedReply(503, "5.5.1"))
        #expect(reply(harness.send("RCPT TO:<r@y.example>")) == ExpectedReply(503, "5.5.1"))
        #expect(reply(harness.send("DATA")) == ExpectedReply(503, "5.5.1"))
        #expect(reply(harness.send("EHLO postfix.test")) == ExpectedReply(250))
        #expect(reply(harness.send("RCPT TO:<r@y.example>")) == ExpectedReply(503, "5.5.1"))
        #expect(reply(harness.send("DATA")) == ExpectedReply(503, "5.5.1"))
        #expect(reply(harness.send("MAIL FROM:<s@x.example>")) == ExpectedReply(250, "2.1.0"))
        #expect(reply(harness.send("MAIL FROM:<s@x.example>")) == ExpectedReply(503, "5.5.1"))
        #expect(reply(harness.send("DATA")) == ExpectedReply(554, "5.5.1"))
        #expect(reply(harness.send("RCPT TO:<r@y.example>")) == ExpectedReply(250, "2.1.5"))
        guard case .startMessage = harness.send("DATA") else {
            Issue.record("DATA with a recipient must open a message")
            return
        }
    }

    @Test("ESMTP parameters after HELO are refused")
    func parametersNeedEHLO() {
        var harness = Harness()
        harness.start(ehlo: false)
        #expect(reply(harness.send("MAIL FROM:<s@x.example> SIZE=10")) == ExpectedReply(555, "5.5.4"))
        #expect(reply(harness.send("MAIL FROM:<s@x.example>")) == ExpectedReply(250, "2.1.0"))
    }

    @Test("a declared SIZE over the limit gets 552, at the limit 250")
    func declaredSize() {
        var harness = Harness { $0.maximumMessageSize = 5000 }
        harness.start()
        #expect(reply(harness.send("MAIL FROM:<s@x.example> SIZE=5001")) == ExpectedReply(552, "5.3.4"))
        #expect(reply(harness.send("MAIL FROM:<s@x.example> SIZE=99999999999999999999")) == ExpectedReply(552, "5.3.4"))
        #expect(reply(harness.send("MAIL FROM:<s@x.example> SIZE=5000")) == ExpectedReply(250, "2.1.0"))
    }

    @Test("recipients past the limit get 452 and the transaction goes on")
    func tooManyRecipients() {
        var harness = Harness { $0.maximumRecipients = 2 }
        harness.start()
        _ = harness.send("MAIL FROM:<s@x.example>")
        #expect(reply(harness.send("RCPT TO:<r1@y.example>")) == ExpectedReply(250, "2.1.5"))
        #expect(reply(harness.send("RCPT TO:<r2@y.example>")) == ExpectedReply(250, "2.1.5"))
        #expect(reply(harness.send("RCPT TO:<r3@y.example>")) == ExpectedReply(452, "4.5.3"))
        guard case .startMessage(let envelope) = harness.send("DATA") else {
            Issue.record("DATA must open a message")
            return
        }
        #expect(envelope.recipients.map(\.address) == ["r1@y.example", "r2@y.example"])
    }

    @Test("non-ASCII addresses need SMTPUTF8")
    func internationalizedAddresses() {
        var harness = Harness()
        harness.start()
        #expect(reply(harness.send("MAIL FROM:<jøran@x.example>")) == ExpectedReply(553, "5.6.7"))
        #expect(reply(harness.send("MAIL FROM:<s@x.example>")) == ExpectedReply(250, "2.1.0"))
        #expect(reply(harness.send("RCPT TO:<jøran@y.example>")) == ExpectedReply(553, "5.6.7"))
        #expect(reply(harness.send("RCPT TO:<r@bø.example>")) == ExpectedReply(553, "5.6.7"))
        _ = harness.send("RSET")
        #expect(reply(harness.send("MAIL FROM:<jøran@x.example> SMTPUTF8")) == ExpectedReply(250, "2.1.0"))
        #expect(reply(harness.send("RCPT TO:<用户@例子.广告>")) == ExpectedReply(250, "2.1.5"))
        guard case .startMessage(let envelope) = harness.send("DATA") else {
            Issue.record("DATA must open a message")
            return
        }
        #expect(envelope.mailFrom == "jøran@x.example")
        #expect(envelope.recipients == [EnvelopeRecipient(address: "用户@例子.广告")])
        #expect(harness.machine.protocolName == "UTF8SMTP")
    }

    @Test("XFORWARD from a peer that is not authorized gets 550 5.7.0")
    func xforwardUnauthorized() {
        var harness = Harness(allowsXForward: false)
        harness.start()
        #expect(reply(harness.send("XFORWARD NAME=evil.example ADDR=192.0.2.66")) == ExpectedReply(550, "5.7.0"))
        let envelope = harness.openContent()
        #expect(envelope?.client == ClientInfo())
    }

    @Test("XFORWARD attributes land in the envelope of the next transaction")
    func xforwardAttributes() {
        var harness = Harness()
        harness.start()
        #expect(reply(harness.send("XFORWARD NAME=mail.example ADDR=IPV6:2001:db8::25 PORT=4711")) == ExpectedReply(250, "2.0.0"))
        #expect(reply(harness.send("XFORWARD PROTO=ESMTP HELO=helo+20name IDENT=ABC123 SOURCE=REMOTE")) == ExpectedReply(250, "2.0.0"))
        #expect(reply(harness.send("XFORWARD NAME=[UNAVAILABLE]")) == ExpectedReply(250, "2.0.0"))
        let envelope = harness.openContent()
        #expect(
            envelope?.client
                == ClientInfo(
                    name: nil, address: "IPV6:2001:db8::25", port: "4711", proto: "ESMTP", helo: "helo name", ident: "ABC123",
                    source: "REMOTE"))
        #expect(envelope?.peerHelo == "postfix.test")
        #expect(envelope?.peerAddress == "127.0.0.1")
        #expect(harness.machine.contentReceived(ByteBuffer(string: "x\r\n")) == .storeContent(ByteBuffer(string: "x\r\n")))
        guard case .commitMessage(let committed) = harness.machine.contentEnded() else {
            Issue.record("content end must commit")
            return
        }
        #expect(committed.client.address == "IPV6:2001:db8::25")
        _ = harness.machine.messageCommitted(queueID: QueueID(rawValue: "Q1")!)
        // XFORWARD describes one transaction: the next one starts without it.
        let next = harness.openContent()
        #expect(next?.client == ClientInfo())
    }

    @Test("XFORWARD inside a transaction gets 503")
    func xforwardInTransaction() {
        var harness = Harness()
        harness.start()
        _ = harness.send("MAIL FROM:<s@x.example>")
        #expect(reply(harness.send("XFORWARD NAME=late.example")) == ExpectedReply(503, "5.5.1"))
        _ = harness.send("RCPT TO:<r@y.example>")
        guard case .startMessage(let envelope) = harness.send("DATA") else {
            Issue.record("DATA must open a message")
            return
        }
        #expect(envelope.client == ClientInfo())
    }

    @Test("a full transaction: DATA, 354, content, commit, 250 with the queue id")
    func fullTransaction() {
        var harness = Harness()
        harness.start()
        #expect(reply(harness.send("MAIL FROM:<> BODY=8BITMIME RET=HDRS ENVID=e1")) == ExpectedReply(250, "2.1.0"))
        #expect(reply(harness.send("RCPT TO:<r@y.example> NOTIFY=FAILURE ORCPT=rfc822;r@y.example")) == ExpectedReply(250, "2.1.5"))
        let expectedEnvelope = Envelope(
            mailFrom: "", parameters: MailParameters(body: .eightBitMIME, ret: .headers, envelopeID: "e1"),
            recipients: [EnvelopeRecipient(address: "r@y.example", notify: .failure, originalRecipient: "rfc822;r@y.example")],
            client: ClientInfo(), peerHelo: "postfix.test", peerAddress: "127.0.0.1")
        #expect(harness.send("DATA") == .startMessage(expectedEnvelope))
        #expect(harness.machine.messageStarted() == .beginContent(SMTPReply(code: 354, lines: ["End data with <CR><LF>.<CR><LF>"])))
        let content = ByteBuffer(string: "Subject: hi\r\n\r\nbody\r\n")
        #expect(harness.machine.contentReceived(content) == .storeContent(content))
        #expect(harness.machine.contentEnded() == .commitMessage(expectedEnvelope))
        let queueID = QueueID(rawValue: "0ABCdef123")!
        #expect(harness.machine.messageCommitted(queueID: queueID) == .sendReply(SMTPReply(code: 250, .init(2, 0, 0), "Ok: queued as 0ABCdef123")))
        #expect(harness.machine.protocolName == "ESMTP")
        // The session is ready for the next transaction.
        #expect(reply(harness.send("RCPT TO:<r@y.example>")) == ExpectedReply(503, "5.5.1"))
        #expect(reply(harness.send("MAIL FROM:<s@x.example>")) == ExpectedReply(250, "2.1.0"))
    }

    @Test("protocol name: SMTP after HELO, ESMTP after EHLO")
    func protocolName() {
        var helo = Harness()
        helo.start(ehlo: false)
        #expect(helo.machine.protocolName == "SMTP")
        var ehlo = Harness()
        ehlo.start()
        #expect(ehlo.machine.protocolName == "ESMTP")
    }

    @Test("content over the size limit is discarded at once and refused only at its end")
    func oversizedContent() {
        var harness = Harness { $0.maximumMessageSize = 10 }
        harness.start()
        #expect(harness.openContent() != nil)
        #expect(harness.machine.contentReceived(ByteBuffer(string: "123456")) == .storeContent(ByteBuffer(string: "123456")))
        #expect(harness.machine.contentReceived(ByteBuffer(string: "7890")) == .storeContent(ByteBuffer(string: "7890")))
        #expect(harness.machine.contentReceived(ByteBuffer(string: "X")) == .discardMessage)
        #expect(harness.machine.contentReceived(ByteBuffer(string: "more and more")) == .none)
        #expect(harness.machine.contentEnded() == .abortMessage(SMTPReply(code: 552, .init(5, 3, 4), "Error: message file too big")))
        #expect(reply(harness.send("MAIL FROM:<s@x.example>")) == ExpectedReply(250, "2.1.0"))
    }

    @Test("more Received fields than the hop limit: 554 5.4.6 at the end of the content")
    func hopLimit() {
        var harness = Harness { $0.maximumHops = 2 }
        harness.start()
        #expect(harness.openContent() != nil)
        _ = harness.machine.contentReceived(ByteBuffer(string: "Received: a\r\nReceived: b\r\nRecei"))
        _ = harness.machine.contentReceived(ByteBuffer(string: "ved: c\r\n\r\nbody\r\n"))
        #expect(reply(harness.machine.contentEnded()) == ExpectedReply(554, "5.4.6"))
        // Exactly at the limit is fine.
        #expect(harness.openContent() != nil)
        _ = harness.machine.contentReceived(ByteBuffer(string: "Received: a\r\nReceived: b\r\n\r\nReceived: body\r\n"))
        guard case .commitMessage = harness.machine.contentEnded() else {
            Issue.record("two hops must be accepted")
            return
        }
    }

    @Test("the spool failing to open gives 451 and ends the transaction")
    func openFailure() {
        var harness = Harness()
        harness.start()
        _ = harness.send("MAIL FROM:<s@x.example>")
        _ = harness.send("RCPT TO:<r@y.example>")
        guard case .startMessage = harness.send("DATA") else {
            Issue.record("DATA must open a message")
            return
        }
        #expect(reply(harness.machine.messageStartFailed()) == ExpectedReply(451, "4.3.0"))
        #expect(reply(harness.send("RCPT TO:<r@y.example>")) == ExpectedReply(503, "5.5.1"))
    }

    @Test("a failed content write discards and answers 451 at the end of the content")
    func storeFailure() {
        var harness = Harness()
        harness.start()
        #expect(harness.openContent() != nil)
        _ = harness.machine.contentReceived(ByteBuffer(string: "a\r\n"))
        #expect(harness.machine.contentStoreFailed() == .discardMessage)
        #expect(harness.machine.contentStoreFailed() == .none)
        #expect(harness.machine.contentReceived(ByteBuffer(string: "b\r\n")) == .none)
        #expect(reply(harness.machine.contentEnded()) == ExpectedReply(451, "4.3.0"))
    }

    @Test("a failed commit answers 451")
    func commitFailure() {
        var harness = Harness()
        harness.start()
        #expect(harness.openContent() != nil)
        guard case .commitMessage = harness.machine.contentEnded() else {
            Issue.record("content end must commit")
            return
        }
        #expect(reply(harness.machine.messageCommitFailed()) == ExpectedReply(451, "4.3.0"))
        #expect(harness.machine.messageCommitFailed() == .none)
        #expect(reply(harness.send("MAIL FROM:<s@x.example>")) == ExpectedReply(250, "2.1.0"))
    }

    @Test("after too many errors the session closes with 421")
    func errorLimit() {
        var harness = Harness { $0.maximumErrors = 3 }
        harness.start()
        #expect(reply(harness.send("BOGUS")) == ExpectedReply(502, "5.5.2"))
        #expect(reply(harness.machine.commandRejected(SMTPError(.lineTooLong, reply: SMTPReply(code: 500, .init(5, 5, 2), "long"))))
            == ExpectedReply(500, "5.5.2"))
        let last = harness.send("RCPT TO:<r@y.example>")
        #expect(reply(last) == ExpectedReply(421, "4.7.0"))
        #expect(closes(last))
        #expect(harness.machine.isClosed)
    }

    @Test("good commands do not count as errors")
    func goodCommandsDoNotCount() {
        var harness = Harness { $0.maximumErrors = 2 }
        harness.start()
        #expect(reply(harness.send("BOGUS")) == ExpectedReply(502, "5.5.2"))
        for _ in 0..<10 {
            #expect(reply(harness.send("NOOP")) == ExpectedReply(250, "2.0.0"))
        }
        #expect(closes(harness.send("BOGUS")))
    }

    @Test("timeout: 421 4.4.2 and close")
    func timeout() {
        var harness = Harness()
        harness.start()
        let action = harness.machine.timedOut()
        #expect(reply(action) == ExpectedReply(421, "4.4.2"))
        #expect(closes(action))
        #expect(harness.machine.isClosed)
    }

    @Test("QUIT: 221 and close")
    func quit() {
        var harness = Harness()
        harness.start()
        _ = harness.send("MAIL FROM:<s@x.example>")
        let action = harness.send("QUIT")
        #expect(action == .sendReplyAndClose(SMTPReply(code: 221, .init(2, 0, 0), "Bye")))
        #expect(harness.machine.isClosed)
    }

    @Test("NOOP, HELP and VRFY answer without touching the transaction")
    func informationalCommands() {
        var harness = Harness()
        harness.start()
        _ = harness.send("MAIL FROM:<s@x.example>")
        #expect(reply(harness.send("NOOP")) == ExpectedReply(250, "2.0.0"))
        #expect(reply(harness.send("HELP")) == ExpectedReply(214, "2.0.0"))
        #expect(reply(harness.send("VRFY r@y.example")) == ExpectedReply(252, "2.0.0"))
        #expect(reply(harness.send("RCPT TO:<r@y.example>")) == ExpectedReply(250, "2.1.5"))
    }

    @Test("RSET and EHLO clear the transaction")
    func resetClearsTransaction() {
        var harness = Harness()
        harness.start()
        _ = harness.send("MAIL FROM:<s@x.example>")
        _ = harness.send("RCPT TO:<r@y.example>")
        #expect(reply(harness.send("RSET")) == ExpectedReply(250, "2.0.0"))
        #expect(reply(harness.send("RCPT TO:<r@y.example>")) == ExpectedReply(503, "5.5.1"))
        #expect(reply(harness.send("DATA")) == ExpectedReply(503, "5.5.1"))
        _ = harness.send("MAIL FROM:<s@x.example>")
        _ = harness.send("RCPT TO:<r@y.example>")
        #expect(reply(harness.send("EHLO again.test")) == ExpectedReply(250))
        #expect(reply(harness.send("DATA")) == ExpectedReply(503, "5.5.1"))
        _ = harness.send("MAIL FROM:<s2@x.example>")
        _ = harness.send("RCPT TO:<r2@y.example>")
        guard case .startMessage(let envelope) = harness.send("DATA") else {
            Issue.record("DATA must open a message")
            return
        }
        #expect(envelope.mailFrom == "s2@x.example")
        #expect(envelope.recipients.map(\.address) == ["r2@y.example"])
        #expect(envelope.peerHelo == "again.test")
    }

    @Test("shutdown closes an idle session with 421 4.3.2 and lets a message finish")
    func shutdown() {
        var idle = Harness()
        idle.start()
        let action = idle.machine.shutdownRequested()
        #expect(reply(action) == ExpectedReply(421, "4.3.2"))
        #expect(closes(action))

        var busy = Harness()
        busy.start()
        #expect(busy.openContent() != nil)
        #expect(busy.machine.shutdownRequested() == .none)
        guard case .commitMessage = busy.machine.contentEnded() else {
            Issue.record("content end must commit")
            return
        }
        #expect(busy.machine.shutdownRequested() == .none)
        #expect(reply(busy.machine.messageCommitted(queueID: QueueID(rawValue: "Q2")!)) == ExpectedReply(250, "2.0.0"))
        #expect(closes(busy.machine.shutdownRequested()))
    }

    @Test("events that do not fit the phase change nothing")
    func strayEvents() {
        var harness = Harness()
        harness.start()
        #expect(harness.machine.messageStarted() == .none)
        #expect(harness.machine.messageStartFailed() == .none)
        #expect(harness.machine.contentReceived(ByteBuffer(string: "x")) == .none)
        #expect(harness.machine.contentEnded() == .none)
        #expect(harness.machine.messageCommitted(queueID: QueueID(rawValue: "Q3")!) == .none)
        #expect(harness.machine.contentStoreFailed() == .none)
        #expect(harness.openContent() != nil)
        #expect(reply(harness.send("NOOP")) == ExpectedReply(503, "5.5.1"))
    }
}
