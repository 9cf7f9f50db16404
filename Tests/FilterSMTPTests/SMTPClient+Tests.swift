import FilterCore
import Foundation
import Logging
import NIOCore
import NIOPosix
import Synchronization
import Testing

@testable import FilterSMTP

/// A scripted SMTP server on 127.0.0.1 that records what the client sent.
final class FakeSMTPServer: Sendable {
    enum Response: Sendable {
        /// Reply lines in wire form without CRLF, e.g. `550 5.1.1 unknown`.
        case reply(String)
        /// Say nothing (to provoke a timeout).
        case silent
    }

    struct Script: Sendable {
        var ehloKeywords = [
            "PIPELINING", "SIZE 10240000", "8BITMIME", "DSN", "SMTPUTF8", "ENHANCEDSTATUSCODES",
            "XFORWARD NAME ADDR PORT PROTO HELO IDENT SOURCE",
        ]
        var acceptsEHLO = true
        /// Answer nothing until DATA arrives: a client that waits for each reply deadlocks, so
        /// a passing transaction proves MAIL, RCPT and DATA came in one group (RFC 2920).
        var holdRepliesUntilData = false
        /// Close the connection after answering the final dot.
        var closeAfterData = false
        /// Overrides the default reply to a command line.
        var override: @Sendable (String) -> Response? = { _ in nil }
    }

    struct Session: Sendable {
        var commands: [String] = []
        var messages: [String] = []
    }

    let script: Script
    private let recorded = Mutex<[Session]>([])
    private let serverChannel: Mutex<(any Channel)?> = Mutex(nil)
    let port: Int

    private init(script: Script, channel: any Channel) {
        self.script = script
        self.port = channel.localAddress!.port!
        serverChannel.withLock { $0 = channel }
    }

    static func start(_ script: Script = Script()) async throws -> FakeSMTPServer {
        let box = Mutex<FakeSMTPServer?>(nil)
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let server = box.withLock { $0 }!
                    try channel.pipeline.syncOperations.addHandler(FakeSMTPSessionHandler(server: server))
                }
            }
            .bind(host: "127.0.0.1", port: 0)
            .get()
        let server = FakeSMTPServer(script: script, channel: channel)
        box.withLock { $0 = server }
        return server
    }

    var sessions: [Session] { recorded.withLock { $0 } }
    var allCommands: [String] { sessions.flatMap(\.commands) }
    var allMessages: [String] { sessions.flatMap(\.messages) }

    func newSession() -> Int {
        recorded.withLock {
            $0.append(Session())
            return $0.count - 1
        }
    }

    func record(command: String, session: Int) { recorded.withLock { $0[session].commands.append(command) } }
    func record(message: String, session: Int) { recorded.withLock { $0[session].messages.append(message) } }

    func close() async throws {
        let channel = serverChannel.withLock { $0 }
        try await channel?.close()
    }

    /// Runs `body` with a started server and closes it whatever happens.
    static func with<T>(
        _ script: Script = Script(),
        _ body: (FakeSMTPServer) async throws -> T
    ) async throws -> T {
        let server = try await start(script)
        do {
            let result = try await body(server)
            try await server.close()
            return result
        } catch {
            try? await server.close()
            throw error
        }
    }
}

private final class FakeSMTPSessionHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let server: FakeSMTPServer
    private var session = 0
    private var pending: [UInt8] = []
    private var inData = false
    private var held: [String] = []
    private var acceptedRecipients = 0
    private var mailAccepted = false
    private var currentVerb = ""
    private var dataStarted = false
    private var scanned = 0

    init(server: FakeSMTPServer) { self.server = server }

    func channelActive(context: ChannelHandlerContext) {
        session = server.newSession()
        send(["220 fake.test ESMTP"], context: context)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        pending += Array(unwrapInboundIn(data).readableBytesView)
        process(context: context)
    }

    private func process(context: ChannelHandlerContext) {
        while true {
            if inData {
                if !dataStarted {
                    pending.insert(contentsOf: Array("\r\n".utf8), at: 0)
                    dataStarted = true
                }
                let terminator = Array("\r\n.\r\n".utf8)
                var end: Int?
                var index = scanned
                while index + 5 <= pending.count {
                    if pending[index] == terminator[0], pending[index..<index + 5].elementsEqual(terminator) {
                        end = index
                        break
                    }
                    index += 1
                }
                guard let end else {
                    scanned = max(0, pending.count - 4)
                    return
                }
                let framed = pending
                scanned = 0
                dataStarted = false
                let message = String(decoding: framed[2..<end + 2], as: UTF8.self)
                server.record(message: message, session: session)
                pending = Array(framed[(end + 5)...])
                inData = false
                acceptedRecipients = 0
                mailAccepted = false
                send(["250 2.0.0 Ok: queued as FAKE"], context: context)
                if server.script.closeAfterData {
                    context.close(promise: nil)
                    return
                }
                continue
            }
            guard let lineFeed = pending.firstIndex(of: UInt8(ascii: "\n")) else { return }
            let line = String(decoding: pending[..<lineFeed].filter { $0 != UInt8(ascii: "\r") }, as: UTF8.self)
            pending.removeSubrange(...lineFeed)
            server.record(command: line, session: session)
            respond(to: line, context: context)
        }
    }

    private func respond(to line: String, context: ChannelHandlerContext) {
        let verb = line.prefix { $0 != " " && $0 != ":" }.uppercased()
        currentVerb = verb
        if verb == "RCPT", !mailAccepted {
            queue("503 5.5.1 Error: need MAIL command", context: context, isData: false)
            return
        }
        switch server.script.override(line) {
        case .silent:
            return
        case .reply(let text):
            if verb == "RCPT", text.hasPrefix("2") { acceptedRecipients += 1 }
            if verb == "MAIL" { mailAccepted = text.hasPrefix("2") }
            queue(text, context: context, isData: verb == "DATA" && text.hasPrefix("354"))
            return
        case nil:
            break
        }
        switch verb {
        case "EHLO":
            if server.script.acceptsEHLO {
                let lines = ["fake.test"] + server.script.ehloKeywords
                send(lines.enumerated().map { "250\($0.offset == lines.count - 1 ? " " : "-")\($0.element)" }, context: context)
            } else {
                send(["502 5.5.2 Error: command not recognized"], context: context)
            }
        case "HELO": send(["250 fake.test"], context: context)
        case "RCPT":
            acceptedRecipients += 1
            queue("250 2.1.5 Ok", context: context, isData: false)
        case "DATA":
            if acceptedRecipients == 0 {
                queue("554 5.5.1 Error: no valid recipients", context: context, isData: false)
            } else {
                queue("354 End data with <CR><LF>.<CR><LF>", context: context, isData: true)
            }
        case "QUIT":
            send(["221 2.0.0 Bye"], context: context)
            context.close(promise: nil)
        case "MAIL":
            mailAccepted = true
            queue("250 2.1.0 Ok", context: context, isData: false)
        case "RSET":
            acceptedRecipients = 0
            mailAccepted = false
            send(["250 2.0.0 Ok"], context: context)
        default:
            queue("250 2.0.0 Ok", context: context, isData: false)
        }
    }

    private func queue(_ reply: String, context: ChannelHandlerContext, isData: Bool) {
        held.append(reply)
        if isData { inData = true }
        guard !server.script.holdRepliesUntilData || currentVerb == "DATA" else { return }
        let replies = held
        held = []
        send(replies, context: context)
    }

    private func send(_ lines: [String], context: ChannelHandlerContext) {
        var buffer = context.channel.allocator.buffer(capacity: 64)
        for line in lines { buffer.writeString(line + "\r\n") }
        context.writeAndFlush(wrapOutboundOut(buffer), promise: nil)
    }
}

@Suite("SMTPClient")
struct SMTPClientTests {
    static let logger = Logger(label: "test.smtp.client")

    static func configuration(port: Int) -> SMTPClientConfiguration {
        var configuration = SMTPClientConfiguration(heloName: "filter.test", port: port)
        configuration.connectTimeout = .seconds(5)
        configuration.commandTimeout = .seconds(5)
        configuration.dataBlockTimeout = .seconds(5)
        configuration.dataTerminationTimeout = .seconds(5)
        return configuration
    }

    static func transaction(
        recipients: [String] = ["rcpt@example.com"],
        content: String = "Subject: test\r\n\r\nbody\r\n"
    ) -> OutboundTransaction {
        OutboundTransaction(
            mailFrom: "sender@example.org",
            recipients: recipients.map { EnvelopeRecipient(address: $0) },
            content: .bytes(ByteBuffer(string: content))
        )
    }

    @Test
    func sendsXForwardParametersPipelinedAndCanonicalData() async throws {
        var script = FakeSMTPServer.Script()
        script.holdRepliesUntilData = true
        script.ehloKeywords[script.ehloKeywords.count - 1] = "XFORWARD NAME ADDR PROTO HELO"
        try await FakeSMTPServer.with(script) { server in
            let client = SMTPClient(configuration: Self.configuration(port: server.port))
            let prefix = "X-Filter-Verdict: pass\r\n"
            let content = "Subject: t\r\n\r\n.hidden\n.\nend"
            let transaction = OutboundTransaction(
                mailFrom: "sender@example.org",
                parameters: MailParameters(
                    body: .eightBitMIME, smtpUTF8: true, ret: .headers, envelopeID: "abc+2Bdef"
                ),
                recipients: [
                    EnvelopeRecipient(address: "a@example.com", notify: [.success, .failure], originalRecipient: "rfc822;a@example.com"),
                    EnvelopeRecipient(address: "b@example.com", notify: .never),
                ],
                client: ClientInfo(
                    name: "mail.example.net", address: "IPV6:2001:db8::1", port: "4711", proto: "ESMTP",
                    helo: "helo with space", ident: "ABC123", source: "REMOTE"
                ),
                headerPrefix: ByteBuffer(string: prefix),
                content: .bytes(ByteBuffer(string: content))
            )
            let result = try await client.send(transaction, logger: Self.logger)
            await client.shutdown()

            #expect(result.dataReply?.code == 250)
            #expect(result.isDeliveredToAll)
            #expect(result.recipients.map(\.isAccepted) == [true, true])
            let size = prefix.utf8.count + content.utf8.count
            #expect(
                server.allCommands == [
                    "EHLO filter.test",
                    "XFORWARD NAME=mail.example.net ADDR=IPV6:2001:db8::1 PROTO=ESMTP HELO=helo+20with+20space",
                    "MAIL FROM:<sender@example.org> SIZE=\(size) BODY=8BITMIME SMTPUTF8 RET=HDRS ENVID=abc+2Bdef",
                    "RCPT TO:<a@example.com> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;a@example.com",
                    "RCPT TO:<b@example.com> NOTIFY=NEVER",
                    "DATA",
                    "QUIT",
                ]
            )
            #expect(server.allMessages == ["X-Filter-Verdict: pass\r\nSubject: t\r\n\r\n..hidden\r\n..\r\nend\r\n"])
        }
    }

    @Test
    func sendsPlainCommandsWhenNothingIsOffered() async throws {
        var script = FakeSMTPServer.Script()
        script.ehloKeywords = []
        try await FakeSMTPServer.with(script) { server in
            let client = SMTPClient(configuration: Self.configuration(port: server.port))
            var transaction = Self.transaction()
            transaction.parameters = MailParameters(body: .eightBitMIME, ret: .full, envelopeID: "x")
            transaction.recipients = [EnvelopeRecipient(address: "rcpt@example.com", notify: .failure, originalRecipient: "rfc822;r@example.com")]
            transaction.client = ClientInfo(name: "n.example", address: "192.0.2.1")
            let result = try await client.send(transaction, logger: Self.logger)
            await client.shutdown()
            #expect(result.isDeliveredToAll)
            #expect(
                server.allCommands == [
                    "EHLO filter.test", "MAIL FROM:<sender@example.org>", "RCPT TO:<rcpt@example.com>", "DATA", "QUIT",
                ]
            )
        }
    }

    @Test
    func fallsBackToHELO() async throws {
        var script = FakeSMTPServer.Script()
        script.acceptsEHLO = false
        try await FakeSMTPServer.with(script) { server in
            let client = SMTPClient(configuration: Self.configuration(port: server.port))
            let result = try await client.send(Self.transaction(), logger: Self.logger)
            await client.shutdown()
            #expect(result.isDeliveredToAll)
            #expect(Array(server.allCommands.prefix(3)) == ["EHLO filter.test", "HELO filter.test", "MAIL FROM:<sender@example.org>"])
        }
    }

    @Test(arguments: [true, false])
    func keepsPerRecipientRefusal(pipelining: Bool) async throws {
        var script = FakeSMTPServer.Script()
        if !pipelining { script.ehloKeywords.removeFirst() }
        script.override = { line in
            line.hasPrefix("RCPT TO:<bad@") ? .reply("550 5.1.1 <bad@example.com>: Recipient address rejected") : nil
        }
        try await FakeSMTPServer.with(script) { server in
            let client = SMTPClient(configuration: Self.configuration(port: server.port))
            let result = try await client.send(
                Self.transaction(recipients: ["good@example.com", "bad@example.com"]), logger: Self.logger
            )
            await client.shutdown()
            #expect(result.recipients.map(\.isAccepted) == [true, false])
            #expect(result.recipients[1].reply.enhancedStatus == EnhancedStatusCode(5, 1, 1))
            #expect(result.finalReply(forRecipientAt: 0).code == 250)
            #expect(result.finalReply(forRecipientAt: 1).code == 550)
            #expect(!result.isDeliveredToAll)
            #expect(server.allMessages.count == 1)
        }
    }

    @Test(arguments: [true, false])
    func sendsNoContentWhenEveryRecipientIsRefused(pipelining: Bool) async throws {
        var script = FakeSMTPServer.Script()
        if !pipelining { script.ehloKeywords.removeFirst() }
        script.override = { $0.hasPrefix("RCPT") ? .reply("450 4.2.0 try later") : nil }
        try await FakeSMTPServer.with(script) { server in
            let client = SMTPClient(configuration: Self.configuration(port: server.port))
            let result = try await client.send(Self.transaction(), logger: Self.logger)
            #expect(result.dataReply == nil)
            #expect(result.finalReply(forRecipientAt: 0).isTransientFailure)
            #expect(server.allMessages.isEmpty)
            #expect(server.allCommands.contains("DATA") == pipelining)
            // The connection stays usable for the next transaction.
            #expect(await client.idleConnectionCount == 1)
            await client.shutdown()
        }
    }

    @Test(arguments: [("451 4.3.0 try later", true), ("550 5.7.1 go away", false)])
    func classifiesMailRefusal(reply: String, isTransient: Bool) async throws {
        var script = FakeSMTPServer.Script()
        script.override = { $0.hasPrefix("MAIL") ? .reply(reply) : nil }
        try await FakeSMTPServer.with(script) { server in
            let client = SMTPClient(configuration: Self.configuration(port: server.port))
            let error = await #expect(throws: SMTPClientError.self) {
                try await client.send(Self.transaction(), logger: Self.logger)
            }
            #expect(error?.code == .rejected)
            #expect(error?.reply?.code == Int(reply.prefix(3)))
            #expect(error?.isTransient == isTransient)
            // A clean refusal keeps the connection; the next transaction starts with RSET.
            _ = try? await client.send(Self.transaction(), logger: Self.logger)
            await client.shutdown()
            #expect(server.sessions.count == 1)
            #expect(server.allCommands.contains("RSET"))
        }
    }

    @Test
    func reusesConnectionWithRSET() async throws {
        try await FakeSMTPServer.with { server in
            let client = SMTPClient(configuration: Self.configuration(port: server.port))
            _ = try await client.send(Self.transaction(content: "one\r\n"), logger: Self.logger)
            _ = try await client.send(Self.transaction(content: "two\r\n"), logger: Self.logger)
            #expect(await client.idleConnectionCount == 1)
            await client.shutdown()
            #expect(await client.idleConnectionCount == 0)
            #expect(server.sessions.count == 1)
            let commands = server.allCommands
            #expect(commands.filter { $0.hasPrefix("EHLO") }.count == 1)
            #expect(commands.filter { $0 == "RSET" }.count == 1)
            #expect(commands.last == "QUIT")
            let rset = try #require(commands.firstIndex(of: "RSET"))
            #expect(commands[rset + 1].hasPrefix("MAIL FROM"))
            #expect(server.allMessages == ["one\r\n", "two\r\n"])
        }
    }

    @Test
    func replacesBrokenIdleConnection() async throws {
        var script = FakeSMTPServer.Script()
        script.closeAfterData = true
        try await FakeSMTPServer.with(script) { server in
            let client = SMTPClient(configuration: Self.configuration(port: server.port))
            _ = try await client.send(Self.transaction(content: "one\r\n"), logger: Self.logger)
            let result = try await client.send(Self.transaction(content: "two\r\n"), logger: Self.logger)
            await client.shutdown()
            #expect(result.isDeliveredToAll)
            #expect(server.sessions.count == 2)
            #expect(server.allMessages == ["one\r\n", "two\r\n"])
        }
    }

    @Test
    func closesConnectionAfterMaximumTransactions() async throws {
        try await FakeSMTPServer.with { server in
            var configuration = Self.configuration(port: server.port)
            configuration.maximumTransactionsPerConnection = 2
            let client = SMTPClient(configuration: configuration)
            for _ in 0..<3 { _ = try await client.send(Self.transaction(), logger: Self.logger) }
            await client.shutdown()
            #expect(server.sessions.map { $0.messages.count } == [2, 1])
            #expect(server.sessions[0].commands.last == "QUIT")
        }
    }

    @Test
    func timesOutWhenServerIsSilent() async throws {
        var script = FakeSMTPServer.Script()
        script.ehloKeywords.removeFirst()
        script.override = { $0.hasPrefix("MAIL") ? .silent : nil }
        try await FakeSMTPServer.with(script) { server in
            var configuration = Self.configuration(port: server.port)
            configuration.commandTimeout = .milliseconds(200)
            let client = SMTPClient(configuration: configuration)
            let error = await #expect(throws: SMTPClientError.self) {
                try await client.send(Self.transaction(), logger: Self.logger)
            }
            #expect(error?.code == .timeout)
            #expect(error?.isTransient == true)
            #expect(error?.message.contains("MAIL FROM") == true)
            // A connection that failed mid-transaction is never reused.
            #expect(await client.idleConnectionCount == 0)
            await client.shutdown()
        }
    }

    @Test
    func connectionRefusedIsTransient() async throws {
        let server = try await FakeSMTPServer.start()
        let port = server.port
        try await server.close()
        let client = SMTPClient(configuration: Self.configuration(port: port))
        let error = await #expect(throws: SMTPClientError.self) {
            try await client.send(Self.transaction(), logger: Self.logger)
        }
        #expect(error?.code == .connectFailed)
        #expect(error?.isTransient == true)
    }

    @Test
    func refusesSMTPUTF8MessageWhenNotOffered() async throws {
        var script = FakeSMTPServer.Script()
        script.ehloKeywords.removeAll { $0 == "SMTPUTF8" }
        try await FakeSMTPServer.with(script) { server in
            let client = SMTPClient(configuration: Self.configuration(port: server.port))
            var transaction = Self.transaction()
            transaction.parameters.smtpUTF8 = true
            let error = await #expect(throws: SMTPClientError.self) {
                try await client.send(transaction, logger: Self.logger)
            }
            await client.shutdown()
            #expect(error?.code == .extensionRequired)
            #expect(error?.reply?.enhancedStatus == EnhancedStatusCode(5, 6, 7))
            #expect(error?.isTransient == false)
            #expect(!server.allCommands.contains { $0.hasPrefix("MAIL") })
        }
    }

    @Test
    func refusesLineBreaksInArguments() async throws {
        try await FakeSMTPServer.with { server in
            let client = SMTPClient(configuration: Self.configuration(port: server.port))
            let error = await #expect(throws: SMTPClientError.self) {
                try await client.send(Self.transaction(recipients: ["a@example.com>\r\nRCPT TO:<b@example.com"]), logger: Self.logger)
            }
            await client.shutdown()
            #expect(error?.code == .invalidArgument)
            #expect(!server.allCommands.contains { $0.hasPrefix("RCPT") })
        }
    }

    @Test
    func streamsLargeFileInChunks() async throws {
        let lines = (0..<20_000).map { $0 % 7 == 0 ? ".line \($0)" : "line \($0) with some text" }
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("smtp-client-\(UUID()).eml").path
        try Data(lines.joined(separator: "\n").utf8).write(to: URL(fileURLWithPath: path))
        defer { try? FileManager.default.removeItem(atPath: path) }
        try await FakeSMTPServer.with { server in
            var configuration = Self.configuration(port: server.port)
            configuration.fileChunkSize = 4096
            let client = SMTPClient(configuration: configuration)
            let transaction = OutboundTransaction(
                envelope: Envelope(mailFrom: "", recipients: [EnvelopeRecipient(address: "r@example.com")]),
                messageFile: path
            )
            let result = try await client.send(transaction, logger: Self.logger)
            await client.shutdown()
            #expect(result.isDeliveredToAll)
            let expected = lines.map { $0.hasPrefix(".") ? "." + $0 : $0 }.joined(separator: "\r\n") + "\r\n"
            #expect(server.allMessages == [expected])
            #expect(server.allCommands.contains("MAIL FROM:<> SIZE=\(lines.joined(separator: "\n").utf8.count)"))
        }
    }

    @Test
    func missingFileIsTransientContentError() async throws {
        let client = SMTPClient(configuration: Self.configuration(port: 1))
        let transaction = OutboundTransaction(
            envelope: Envelope(mailFrom: "", recipients: [EnvelopeRecipient(address: "r@example.com")]),
            messageFile: "/nonexistent/spool/file"
        )
        let error = await #expect(throws: SMTPClientError.self) {
            try await client.send(transaction, logger: Self.logger)
        }
        #expect(error?.code == .contentUnreadable)
        #expect(error?.isTransient == true)
    }

    @Test
    func sendsConcurrentTransactions() async throws {
        try await FakeSMTPServer.with { server in
            let client = SMTPClient(configuration: Self.configuration(port: server.port))
            try await withThrowingTaskGroup(of: Bool.self) { group in
                for index in 0..<12 {
                    group.addTask {
                        try await client.send(Self.transaction(content: "message \(index)\r\n"), logger: Self.logger).isDeliveredToAll
                    }
                }
                for try await delivered in group { #expect(delivered) }
            }
            #expect(await client.idleConnectionCount <= client.configuration.maximumIdleConnections)
            await client.shutdown()
            #expect(Set(server.allMessages) == Set((0..<12).map { "message \($0)\r\n" }))
        }
    }

    @Test
    func splitsLongXForwardAndDropsOversizedAttributes() {
        let all: Set<String> = ["NAME", "ADDR", "PORT", "PROTO", "HELO", "IDENT", "SOURCE"]
        let client = ClientInfo(
            name: String(repeating: "n", count: 300), address: "192.0.2.1", port: "25", proto: "ESMTP",
            helo: String(repeating: "h", count: 300), ident: String(repeating: "i", count: 600), source: "REMOTE"
        )
        let (lines, dropped) = SMTPClientCommands.xforward(client, accepted: all)
        #expect(dropped == ["IDENT"])
        #expect(lines.count == 2)
        #expect(lines.allSatisfy { $0.hasPrefix("XFORWARD ") && $0.utf8.count + 2 <= 512 })
        let sent = lines.flatMap { $0.split(separator: " ").dropFirst().map { String($0.prefix { $0 != "=" }) } }
        #expect(sent == ["NAME", "ADDR", "PORT", "PROTO", "HELO", "SOURCE"])
        #expect(SMTPClientCommands.xforward(client, accepted: []).lines.isEmpty)
    }

    @Test
    func parsesEHLOKeywords() {
        let reply = SMTPReply(code: 250, lines: ["mx.example.com", "pipelining", "SIZE 1000", "XFORWARD NAME addr"])
        let capabilities = ESMTPCapabilities(ehloReply: reply)
        #expect(capabilities.supportsPipelining)
        #expect(capabilities.keywords["SIZE"] == ["1000"])
        #expect(capabilities.xforwardAttributes == ["NAME", "ADDR"])
        #expect(!capabilities.supportsDSN)
        #expect(!capabilities.supports("MX.EXAMPLE.COM"))
    }
}

/// Against Postfix's own `smtp-sink`, when the environment provides it (`FILTER_INTEGRATION=1`).
@Suite("SMTPClient against smtp-sink")
struct SMTPClientSinkTests {
    static let sinkPath = "/usr/sbin/smtp-sink"
    static let enabled =
        ProcessInfo.processInfo.environment["FILTER_INTEGRATION"] == "1"
        && FileManager.default.isExecutableFile(atPath: sinkPath)

    @Test(.enabled(if: enabled))
    func deliversToSMTPSink() async throws {
        // A free port: bind to port 0, note the port, let it go.
        let probe = try await FakeSMTPServer.start()
        let port = probe.port
        try await probe.close()

        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("smtp-sink-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try FileManager.default.setAttributes([.posixPermissions: 0o777], ofItemAtPath: directory.path)
        defer { try? FileManager.default.removeItem(at: directory) }
        let sink = Process()
        sink.executableURL = URL(fileURLWithPath: Self.sinkPath)
        sink.arguments = ["-u", "nobody", "-d", directory.path + "/%M.", "127.0.0.1:\(port)", "10"]
        // smtp-sink ignores SIGTERM and would keep the test's output pipe open.
        sink.standardOutput = FileHandle.nullDevice
        sink.standardError = FileHandle.nullDevice
        try sink.run()
        defer {
            kill(sink.processIdentifier, SIGKILL)
            sink.waitUntilExit()
        }

        var configuration = SMTPClientConfiguration(heloName: "filter.test", port: port)
        configuration.commandTimeout = .seconds(10)
        let client = SMTPClient(configuration: configuration)
        let transaction = OutboundTransaction(
            mailFrom: "sender@example.org",
            recipients: [EnvelopeRecipient(address: "a@example.com"), EnvelopeRecipient(address: "b@example.com")],
            client: ClientInfo(name: "mail.example.net", address: "192.0.2.7", proto: "ESMTP", helo: "mail.example.net"),
            headerPrefix: ByteBuffer(string: "X-Filter-Verdict: pass\r\n"),
            content: .bytes(ByteBuffer(string: "Subject: sink\n\n.dotted\nbody\n"))
        )
        var result: TransactionResult?
        for _ in 0..<50 where result == nil {
            do {
                result = try await client.send(transaction, logger: SMTPClientTests.logger)
            } catch let error as SMTPClientError where error.code == .connectFailed {
                try await Task.sleep(for: .milliseconds(100))
            }
        }
        let second = try await client.send(transaction, logger: SMTPClientTests.logger)
        await client.shutdown()
        #expect(result?.isDeliveredToAll == true)
        #expect(second.isDeliveredToAll)

        let files = try FileManager.default.contentsOfDirectory(atPath: directory.path)
        #expect(files.count == 2)
        let dump = try String(contentsOfFile: directory.appendingPathComponent(try #require(files.first)).path, encoding: .utf8)
        // smtp-sink stores the envelope as headers, then the content un-stuffed with LF line ends.
        #expect(dump.contains("X-Rcpt-Args: <b@example.com>\n"))
        #expect(dump.contains("X-Filter-Verdict: pass\nSubject: sink\n\n.dotted\nbody\n"), "\(dump.debugDescription)")
    }
}
