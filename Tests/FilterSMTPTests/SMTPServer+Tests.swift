import FilterCore
import FilterSMTP
import NIOCore
import NIOPosix
import Testing

@Suite("SMTPServer over TCP", .timeLimit(.minutes(1)))
struct SMTPServerTests {
    private static let transaction =
        "EHLO client.test\r\n"
        + "MAIL FROM:<s@x.example> BODY=8BITMIME\r\n"
        + "RCPT TO:<a@y.example> NOTIFY=SUCCESS,FAILURE\r\n"
        + "RCPT TO:<b@y.example>\r\n"
        + "DATA\r\n"

    @Test("a fully pipelined transaction gets its replies in order and stores the un-stuffed content")
    func pipelinedTransaction() async throws {
        let receiver = InMemoryMessageReceiver()
        try await withTestServer(receiver: receiver) { address, _ in
            let (replies, rest) = try await RawSMTPClient.connect(to: address) { client in
                try await client.send(
                    Self.transaction + "Subject: hi\r\n\r\n..dotted\r\nbare\n.\nLF\r\n.\r\nQUIT\r\n")
                let replies = try await client.readReplies(8)
                return (replies, try await client.readUntilClosed())
            }
            try #require(replies.count == 8)
            #expect(replies[0].code == 220)
            #expect(replies[0].text == "filter.test ESMTP filterd")
            #expect(replies[1].lines.first == "250-filter.test")
            #expect(replies[1].lines.contains("250-PIPELINING"))
            #expect(replies[1].lines.contains("250 XFORWARD NAME ADDR PORT PROTO HELO IDENT SOURCE"))
            #expect(replies[2].expected == ExpectedReply(250, "2.1.0"))
            #expect(replies[3].expected == ExpectedReply(250, "2.1.5"))
            #expect(replies[4].expected == ExpectedReply(250, "2.1.5"))
            #expect(replies[5].code == 354)
            #expect(replies[6].expected == ExpectedReply(250, "2.0.0"))
            #expect(replies[7].expected == ExpectedReply(221, "2.0.0"))
            #expect(rest.isEmpty, "nothing after 221, and the server closed")

            let committed = try #require(receiver.committed.first)
            #expect(receiver.committed.count == 1)
            #expect(receiver.discarded.isEmpty)
            #expect(replies[6].text == "2.0.0 Ok: queued as \(committed.queueID)")
            #expect(committed.envelope.mailFrom == "s@x.example")
            #expect(committed.envelope.parameters.body == .eightBitMIME)
            #expect(
                committed.envelope.recipients == [
                    EnvelopeRecipient(address: "a@y.example", notify: [.success, .failure]),
                    EnvelopeRecipient(address: "b@y.example"),
                ])
            #expect(committed.envelope.peerHelo == "client.test")
            #expect(committed.envelope.peerAddress == "127.0.0.1")

            let content = String(decoding: committed.content, as: UTF8.self)
            let body = "Subject: hi\r\n\r\n.dotted\r\nbare\n.\nLF\r\n"
            #expect(content.hasSuffix(body))
            let trace = String(content.dropLast(body.count))
            #expect(trace.hasPrefix("Received: from client.test ([127.0.0.1])\r\n\tby filter.test (filterd) with ESMTP id \(committed.queueID); "))
            #expect(trace.hasSuffix("\r\n"))
            #expect(trace.split(separator: "\r\n", omittingEmptySubsequences: false).count == 3, "two lines, no for clause with two recipients")
        }
    }

    @Test("one recipient is named in the Received field")
    func receivedForClause() async throws {
        let receiver = InMemoryMessageReceiver()
        try await withTestServer(receiver: receiver) { address, _ in
            try await RawSMTPClient.connect(to: address) { client in
                try await client.send("HELO old.test\r\nMAIL FROM:<>\r\nRCPT TO:<only@y.example>\r\nDATA\r\n")
                let replies = try await client.readReplies(5)
                #expect(replies.map(\.code) == [220, 250, 250, 250, 354])
                try await client.send("x\r\n.\r\n")
                #expect(try await client.readReply()?.code == 250)
            }
            let committed = try #require(receiver.committed.first)
            let content = String(decoding: committed.content, as: UTF8.self)
            #expect(content.hasPrefix("Received: from old.test ([127.0.0.1])\r\n\tby filter.test (filterd) with SMTP id \(committed.queueID)\r\n\tfor <only@y.example>; "))
            #expect(content.hasSuffix("\r\nx\r\n"))
        }
    }

    @Test("smuggled commands inside the content stay content")
    func smugglingEndToEnd() async throws {
        let receiver = InMemoryMessageReceiver()
        try await withTestServer(receiver: receiver) { address, _ in
            try await RawSMTPClient.connect(to: address) { client in
                try await client.send(
                    "EHLO client.test\r\nMAIL FROM:<s@x.example>\r\nRCPT TO:<a@y.example>\r\nDATA\r\n"
                        + "Subject: hi\r\n\r\nbody\n.\nMAIL FROM:<evil@x.example>\r\nRCPT TO:<victim@y.example>\r\nDATA\r\n"
                        + "smuggled\r\n.\r\nNOOP\r\n")
                let replies = try await client.readReplies(7)
                #expect(replies.map(\.code) == [220, 250, 250, 250, 354, 250, 250])
                #expect(replies.last?.expected == ExpectedReply(250, "2.0.0"))
                #expect(replies.last?.text == "2.0.0 Ok")
            }
            #expect(receiver.committed.count == 1)
            #expect(receiver.committed.first?.envelope.recipients.map(\.address) == ["a@y.example"])
            let content = String(decoding: receiver.committed.first?.content ?? [], as: UTF8.self)
            #expect(content.hasSuffix("body\n.\nMAIL FROM:<evil@x.example>\r\nRCPT TO:<victim@y.example>\r\nDATA\r\nsmuggled\r\n"))
        }
    }

    @Test("a message over the size limit is read to its end, refused with 552, and the session goes on")
    func oversizedMessage() async throws {
        let receiver = InMemoryMessageReceiver()
        try await withTestServer(receiver: receiver, configure: { $0.session.maximumMessageSize = 1000 }) { address, _ in
            try await RawSMTPClient.connect(to: address) { client in
                try await client.send("EHLO client.test\r\nMAIL FROM:<s@x.example>\r\nRCPT TO:<a@y.example>\r\nDATA\r\n")
                #expect(try await client.readReplies(5).map(\.code) == [220, 250, 250, 250, 354])
                let line = String(repeating: "x", count: 98) + "\r\n"
                try await client.send("Subject: big\r\n\r\n" + String(repeating: line, count: 50))
                try await client.send(".\r\n")
                let refusal = try await client.readReply()
                #expect(refusal?.expected == ExpectedReply(552, "5.3.4"))
                try await client.send("MAIL FROM:<s@x.example>\r\nRCPT TO:<a@y.example>\r\nDATA\r\n")
                #expect(try await client.readReplies(3).map(\.code) == [250, 250, 354])
                try await client.send("Subject: small\r\n\r\nok\r\n.\r\nQUIT\r\n")
                #expect(try await client.readReplies(2).map(\.expected) == [ExpectedReply(250, "2.0.0"), ExpectedReply(221, "2.0.0")])
            }
            #expect(receiver.opened.count == 2)
            #expect(receiver.discarded.count == 1)
            #expect(receiver.committed.count == 1)
            #expect(receiver.appendedByteCount < 2 * 1000 + 1000, "the oversized content was not stored whole")
            let content = String(decoding: receiver.committed.first?.content ?? [], as: UTF8.self)
            #expect(content.hasSuffix("\r\nSubject: small\r\n\r\nok\r\n"))
        }
    }

    @Test("a declared SIZE over the limit is refused at MAIL")
    func declaredSizeOverLimit() async throws {
        let receiver = InMemoryMessageReceiver()
        try await withTestServer(receiver: receiver, configure: { $0.session.maximumMessageSize = 1000 }) { address, _ in
            try await RawSMTPClient.connect(to: address) { client in
                try await client.send("EHLO client.test\r\nMAIL FROM:<s@x.example> SIZE=1001\r\n")
                let replies = try await client.readReplies(3)
                #expect(replies.last?.expected == ExpectedReply(552, "5.3.4"))
                #expect(replies[1].lines.contains("250-SIZE 1000"))
            }
        }
    }

    @Test("XFORWARD from loopback lands in the envelope")
    func xforward() async throws {
        let receiver = InMemoryMessageReceiver()
        try await withTestServer(receiver: receiver) { address, _ in
            try await RawSMTPClient.connect(to: address) { client in
                try await client.send(
                    "EHLO postfix.test\r\nXFORWARD NAME=mx.example ADDR=IPV6:2001:db8::1 PORT=25\r\n"
                        + "XFORWARD PROTO=ESMTP HELO=client.example SOURCE=REMOTE IDENT=[UNAVAILABLE]\r\n"
                        + "MAIL FROM:<s@x.example>\r\nRCPT TO:<a@y.example>\r\nDATA\r\nx\r\n.\r\n")
                #expect(try await client.readReplies(8).map(\.code) == [220, 250, 250, 250, 250, 250, 354, 250])
            }
            #expect(
                receiver.committed.first?.envelope.client
                    == ClientInfo(name: "mx.example", address: "IPV6:2001:db8::1", port: "25", proto: "ESMTP", helo: "client.example", source: "REMOTE"))
        }
    }

    @Test("XFORWARD from a peer outside xforwardPeers is refused")
    func xforwardUnauthorized() async throws {
        let receiver = InMemoryMessageReceiver()
        try await withTestServer(
            receiver: receiver, configure: { $0.xforwardPeers = [PeerAddressRange("192.0.2.0/24")!] }
        ) { address, _ in
            try await RawSMTPClient.connect(to: address) { client in
                try await client.send("EHLO postfix.test\r\nXFORWARD NAME=mx.example\r\n")
                let replies = try await client.readReplies(3)
                #expect(!replies[1].lines.contains { $0.contains("XFORWARD") })
                #expect(replies[2].expected == ExpectedReply(550, "5.7.0"))
            }
        }
    }

    @Test("a silent client gets 421 4.4.2 after the command timeout")
    func commandTimeout() async throws {
        let receiver = InMemoryMessageReceiver()
        // Long enough that a loaded machine still sends EHLO in time; the timer runs again
        // from the EHLO, so the 421 comes no sooner than one timeout after it.
        try await withTestServer(receiver: receiver, configure: { $0.commandTimeout = .seconds(2) }) { address, _ in
            try await RawSMTPClient.connect(to: address) { client in
                #expect(try await client.readReply()?.code == 220)
                let start = ContinuousClock.now
                try await client.send("EHLO client.test\r\n")
                #expect(try await client.readReply()?.code == 250)
                let timeout = try await client.readReply()
                #expect(timeout?.expected == ExpectedReply(421, "4.4.2"))
                #expect(ContinuousClock.now - start >= .milliseconds(1900))
                #expect(try await client.readUntilClosed().isEmpty)
            }
        }
    }

    @Test("a client silent during DATA gets 421 4.4.2 after the data timeout; the message is discarded")
    func dataTimeout() async throws {
        let receiver = InMemoryMessageReceiver()
        try await withTestServer(
            receiver: receiver,
            configure: {
                $0.dataTimeout = .milliseconds(300)
                $0.commandTimeout = .seconds(30)
            }
        ) { address, _ in
            try await RawSMTPClient.connect(to: address) { client in
                try await client.send("EHLO client.test\r\nMAIL FROM:<s@x.example>\r\nRCPT TO:<a@y.example>\r\nDATA\r\npartial")
                #expect(try await client.readReplies(5).map(\.code) == [220, 250, 250, 250, 354])
                let start = ContinuousClock.now
                #expect(try await client.readReply()?.expected == ExpectedReply(421, "4.4.2"))
                #expect(ContinuousClock.now - start < .seconds(5), "the data timeout applies, not the command timeout")
                #expect(try await client.readUntilClosed().isEmpty)
            }
            #expect(await eventually { receiver.discarded.count == 1 })
            #expect(receiver.committed.isEmpty)
        }
    }

    @Test("sessions past the limit get 421 4.3.2")
    func tooManySessions() async throws {
        let receiver = InMemoryMessageReceiver()
        try await withTestServer(receiver: receiver, configure: { $0.maximumSessions = 1 }) { address, _ in
            try await RawSMTPClient.connect(to: address) { first in
                #expect(try await first.readReply()?.code == 220)
                try await RawSMTPClient.connect(to: address) { second in
                    let refusal = try await second.readReply()
                    #expect(refusal?.expected == ExpectedReply(421, "4.3.2"))
                    #expect(try await second.readUntilClosed().isEmpty)
                }
                try await first.send("NOOP\r\n")
                #expect(try await first.readReply()?.code == 250)
            }
            // The slot is free again once the first session ended.
            var admitted = false
            for _ in 0..<100 where !admitted {
                admitted = try await RawSMTPClient.connect(to: address) { try await $0.readReply()?.code } == 220
                if !admitted { try await Task.sleep(for: .milliseconds(20)) }
            }
            #expect(admitted)
        }
    }

    @Test("shutdown sends 421 to an idle session and run() returns")
    func shutdownIdle() async throws {
        let receiver = InMemoryMessageReceiver()
        try await withTestServer(receiver: receiver) { address, server in
            try await RawSMTPClient.connect(to: address) { client in
                try await client.send("EHLO client.test\r\n")
                #expect(try await client.readReplies(2).map(\.code) == [220, 250])
                server.shutdown()
                #expect(try await client.readReply()?.expected == ExpectedReply(421, "4.3.2"))
                #expect(try await client.readUntilClosed().isEmpty)
            }
            await #expect(throws: (any Error).self) {
                try await RawSMTPClient.connect(to: address) { _ in }
            }
        }
    }

    @Test("shutdown lets a message in progress finish, then sends 421")
    func shutdownDuringMessage() async throws {
        let receiver = InMemoryMessageReceiver()
        try await withTestServer(receiver: receiver) { address, server in
            try await RawSMTPClient.connect(to: address) { client in
                try await client.send("EHLO client.test\r\nMAIL FROM:<s@x.example>\r\nRCPT TO:<a@y.example>\r\nDATA\r\n")
                #expect(try await client.readReplies(5).map(\.code) == [220, 250, 250, 250, 354])
                server.shutdown()
                try await Task.sleep(for: .milliseconds(50))
                try await client.send("Subject: last\r\n\r\nbody\r\n.\r\n")
                #expect(try await client.readReply()?.expected == ExpectedReply(250, "2.0.0"))
                #expect(try await client.readReply()?.expected == ExpectedReply(421, "4.3.2"))
                #expect(try await client.readUntilClosed().isEmpty)
            }
            #expect(receiver.committed.count == 1)
        }
    }

    @Test("shutdown while the spool opens the message still lets the message finish")
    func shutdownWhileOpening() async throws {
        let receiver = InMemoryMessageReceiver()
        receiver.failures.openDelay = .milliseconds(300)
        try await withTestServer(receiver: receiver) { address, server in
            try await RawSMTPClient.connect(to: address) { client in
                try await client.send("EHLO client.test\r\nMAIL FROM:<s@x.example>\r\nRCPT TO:<a@y.example>\r\nDATA\r\n")
                #expect(try await client.readReplies(4).map(\.code) == [220, 250, 250, 250])
                #expect(await eventually { receiver.opened.count == 1 })
                server.shutdown()
                #expect(try await client.readReply()?.code == 354)
                try await client.send("Subject: late\r\n\r\nbody\r\n.\r\n")
                #expect(try await client.readReply()?.expected == ExpectedReply(250, "2.0.0"))
                #expect(try await client.readReply()?.expected == ExpectedReply(421, "4.3.2"))
                #expect(try await client.readUntilClosed().isEmpty)
            }
            #expect(receiver.committed.count == 1)
        }
    }

    @Test("a peer outside allowedPeers gets 554 5.7.1")
    func disallowedPeer() async throws {
        let receiver = InMemoryMessageReceiver()
        try await withTestServer(receiver: receiver, configure: { $0.allowedPeers = [PeerAddressRange("192.0.2.0/24")!] }) { address, _ in
            try await RawSMTPClient.connect(to: address) { client in
                let refusal = try await client.readReply()
                #expect(refusal?.expected == ExpectedReply(554, "5.7.1"))
                #expect(try await client.readUntilClosed().isEmpty)
            }
            #expect(receiver.opened.isEmpty)
        }
    }

    @Test("a client that goes away during DATA: the message is discarded, nothing committed")
    func disconnectDuringData() async throws {
        let receiver = InMemoryMessageReceiver()
        try await withTestServer(receiver: receiver) { address, _ in
            try await RawSMTPClient.connect(to: address) { client in
                try await client.send("EHLO client.test\r\nMAIL FROM:<s@x.example>\r\nRCPT TO:<a@y.example>\r\nDATA\r\n")
                #expect(try await client.readReplies(5).map(\.code) == [220, 250, 250, 250, 354])
                try await client.send("Subject: cut\r\n\r\npartial content\r\n.")
                // The Received field is the first append; wait for content to arrive too.
                #expect(await eventually { receiver.appendCount >= 2 })
            }
            #expect(await eventually { receiver.discarded.count == 1 })
            #expect(receiver.committed.isEmpty)
        }
    }

    @Test("spool failures answer 451 4.3.0 and keep the session usable")
    func spoolFailures() async throws {
        let receiver = InMemoryMessageReceiver()
        try await withTestServer(receiver: receiver) { address, _ in
            try await RawSMTPClient.connect(to: address) { client in
                try await client.send("EHLO client.test\r\n")
                #expect(try await client.readReplies(2).map(\.code) == [220, 250])

                receiver.failures.open = true
                try await client.send("MAIL FROM:<s@x.example>\r\nRCPT TO:<a@y.example>\r\nDATA\r\n")
                #expect(try await client.readReplies(3).map(\.expected) == [ExpectedReply(250, "2.1.0"), ExpectedReply(250, "2.1.5"), ExpectedReply(451, "4.3.0")])

                // Writing the Received field fails: refused before 354.
                receiver.failures = .init(appendsBeforeFailure: 0)
                try await client.send("MAIL FROM:<s@x.example>\r\nRCPT TO:<a@y.example>\r\nDATA\r\n")
                #expect(try await client.readReplies(3).map(\.expected) == [ExpectedReply(250, "2.1.0"), ExpectedReply(250, "2.1.5"), ExpectedReply(451, "4.3.0")])

                // Writing content fails: the content is read to its end, then 451.
                receiver.failures = .init(appendsBeforeFailure: 1)
                try await client.send("MAIL FROM:<s@x.example>\r\nRCPT TO:<a@y.example>\r\nDATA\r\n")
                #expect(try await client.readReplies(3).map(\.code) == [250, 250, 354])
                try await client.send("line one\r\n")
                try await Task.sleep(for: .milliseconds(20))
                try await client.send("line two\r\n.\r\nNOOP\r\n")
                #expect(try await client.readReplies(2).map(\.expected) == [ExpectedReply(451, "4.3.0"), ExpectedReply(250, "2.0.0")])

                receiver.failures = .init(commit: true)
                try await client.send("MAIL FROM:<s@x.example>\r\nRCPT TO:<a@y.example>\r\nDATA\r\n")
                #expect(try await client.readReplies(3).map(\.code) == [250, 250, 354])
                try await client.send("x\r\n.\r\n")
                #expect(try await client.readReply()?.expected == ExpectedReply(451, "4.3.0"))

                receiver.failures = .init()
                try await client.send("MAIL FROM:<s@x.example>\r\nRCPT TO:<a@y.example>\r\nDATA\r\n")
                #expect(try await client.readReplies(3).map(\.code) == [250, 250, 354])
                try await client.send("x\r\n.\r\n")
                #expect(try await client.readReply()?.expected == ExpectedReply(250, "2.0.0"))
            }
            #expect(receiver.committed.count == 1)
            #expect(receiver.discarded.count == 3, "the two append failures and the commit failure")
        }
    }

    @Test("an over-long command line is answered once and the session goes on")
    func longCommandLine() async throws {
        let receiver = InMemoryMessageReceiver()
        try await withTestServer(receiver: receiver, configure: { $0.maximumCommandLineLength = 512 }) { address, _ in
            try await RawSMTPClient.connect(to: address) { client in
                try await client.send("NOOP " + String(repeating: "x", count: 5000) + "\r\nNOOP\r\n")
                let replies = try await client.readReplies(3)
                #expect(replies.map(\.expected) == [ExpectedReply(220), ExpectedReply(500, "5.5.2"), ExpectedReply(250, "2.0.0")])
            }
        }
    }

    @Test("after too many errors the server says 421 and closes")
    func errorLimit() async throws {
        let receiver = InMemoryMessageReceiver()
        try await withTestServer(receiver: receiver, configure: { $0.session.maximumErrors = 3 }) { address, _ in
            try await RawSMTPClient.connect(to: address) { client in
                try await client.send("BOGUS\r\nBOGUS\r\nBOGUS\r\nNOOP\r\n")
                let replies = try await client.readReplies(4)
                #expect(replies.map(\.code) == [220, 502, 502, 421])
                #expect(try await client.readUntilClosed().isEmpty)
            }
        }
    }
}
