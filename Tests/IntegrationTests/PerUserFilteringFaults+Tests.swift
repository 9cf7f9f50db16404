import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Zero loss when a part of per-user filtering fails: a client or the server killed with
/// requests outstanding, a full user queue, the broker restarted under load. Mail goes
/// swaks/loadgen → `filterd server` → smtp-sink, and arrivals are compared by Message-ID.
@Suite("Per-user filtering faults", .enabled(if: Repository.integrationEnabled), .serialized)
struct PerUserFilteringFaultsTests {
    /// Messages sent while a client or the server is down.
    static let messageCount = 6

    @Test(
        "a client SIGKILLed with requests unacknowledged: the restarted client answers them, all mail arrives"
    )
    func clientKilledWithUnacknowledgedRequests() async throws {
        try await SMTPSink.withRunning { sink in
            try await BrokerFixture.withFixture { fixture in
                let owner = try await fixture.addOwner("j.smith")
                let startClient = {
                    try await FilterClientProcess.swift(
                        broker: fixture.broker, credentials: owner, block: ["@spam.example"])
                }
                try await FilterdProcess.withRunning(
                    nextHopPort: sink.port, filtering: fixture.filtering(deadline: 60)
                ) { filterd in
                    var sent = Set<String>()
                    var blocked = ""
                    try await FilterClientProcess.withRunning(startClient) { first in
                        first.pause()
                        for index in 0..<Self.messageCount {
                            sent.insert(
                                try await Swaks.sendMessage(
                                    port: filterd.listenPort, from: "friend@example.test", to: owner.user,
                                    subject: "kept \(index)"))
                        }
                        blocked = try await Swaks.sendMessage(
                            port: filterd.listenPort, from: "bulk@spam.example", to: owner.user, subject: "blocked")
                        try await Self.waitForLogCount(filterd, "Request published", Self.messageCount + 1)
                        // Let the broker push every request to the paused client before it dies.
                        try await Task.sleep(for: .seconds(1))
                        await first.killAbruptly()
                    }
                    try await FilterClientProcess.withRunning(startClient) { second in
                        let copies = try await sink.waitForMessageIDs(sent, timeout: .seconds(30))
                        try await filterd.waitForEmptySpool()
                        #expect(sent.subtracting(copies.keys).isEmpty, "lost: \(sent.subtracting(copies.keys))")
                        #expect(
                            copies[blocked] == nil,
                            "the blocked sender's mail was delivered: the fallback, not the client, decided")
                        #expect(filterd.logLines(containing: "Owner decided").count == Self.messageCount + 1)
                        #expect(filterd.logLines(containing: "No reply before the deadline").isEmpty)
                        #expect(second.logLines(containing: "redelivered=true").count == Self.messageCount + 1)
                    }
                }
            }
        }
    }

    @Test(
        "the server SIGKILLed with requests outstanding: re-asked with the same ids after the restart, all mail arrives"
    )
    func serverKilledWithOutstandingRequests() async throws {
        try await SMTPSink.withRunning { sink in
            try await BrokerFixture.withFixture { fixture in
                let owner = try await fixture.addOwner("x|y")
                let filtering = fixture.filtering(deadline: 60)
                try await FilterClientProcess.withRunning({
                    try await FilterClientProcess.swift(broker: fixture.broker, credentials: owner, block: [])
                }) { client in
                    client.pause()
                    let first = try await FilterdProcess(nextHopPort: sink.port, filtering: filtering)
                    defer { first.removeFiles() }
                    var sent = Set<String>()
                    do {
                        for index in 0..<Self.messageCount {
                            sent.insert(
                                try await Swaks.sendMessage(
                                    port: first.listenPort, from: "friend@example.test", to: owner.user,
                                    subject: "outstanding \(index)"))
                        }
                        try await Self.waitForLogCount(first, "Request published", Self.messageCount)
                    } catch {
                        await first.stop()
                        throw error
                    }
                    let askedFirst = Self.requestIDs(first.logLines(containing: "Request published"))
                    kill(first.process.processIdentifier, SIGKILL)
                    await first.stop()

                    try await FilterdProcess.withRunning(
                        listenPort: first.listenPort, nextHopPort: sink.port, spoolDirectory: first.spoolDirectory,
                        filtering: filtering
                    ) { second in
                        try await Self.waitForLogCount(second, "Request published", Self.messageCount)
                        client.resume()
                        let copies = try await sink.waitForMessageIDs(sent, timeout: .seconds(30))
                        try await second.waitForEmptySpool()
                        // The client answers both copies of each request; the later answer is a duplicate.
                        try await Self.waitForLogCount(second, "reason=duplicate", Self.messageCount)
                        let askedAgain = Self.requestIDs(second.logLines(containing: "Request published"))
                        #expect(askedFirst.count == Self.messageCount)
                        #expect(askedAgain == askedFirst, "re-asked with other ids")
                        #expect(sent.subtracting(copies.keys).isEmpty, "lost: \(sent.subtracting(copies.keys))")
                        #expect(second.logLines(containing: "Owner decided").count == Self.messageCount)
                        #expect(second.logLines(containing: "No reply before the deadline").isEmpty)
                        #expect(Self.requestIDs(client.logLines(containing: "Answered")) == askedFirst)
                        #expect(client.logLines(containing: "Answered").count == 2 * Self.messageCount)
                    }
                }
            }
        }
    }

    @Test(
        "a user queue at its length limit: the broker refuses, the fallback delivers, all mail arrives")
    func fullUserQueueFallsBack() async throws {
        try await SMTPSink.withRunning { sink in
            try await BrokerFixture.withFixture { fixture in
                // No client: with offline_policy wait the server publishes anyway and the queue fills.
                let owner = try await fixture.addOwner(
                    "full", extraArguments: ["--max-queue-bytes", "2048"])
                let filtering = fixture.filtering(
                    deadline: 5, configuration: ["owners:", "  \"\(owner.user)\": {offline_policy: wait}"])
                try await FilterdProcess.withRunning(nextHopPort: sink.port, filtering: filtering) {
                    filterd in
                    let started = ContinuousClock.now
                    var sent = Set<String>()
                    for index in 0..<Self.messageCount {
                        sent.insert(
                            try await Swaks.sendMessage(
                                port: filterd.listenPort, from: "friend@example.test", to: owner.user,
                                subject: "full \(index)"))
                    }
                    let copies = try await sink.waitForMessageIDs(sent, timeout: .seconds(30))
                    try await filterd.waitForEmptySpool()
                    #expect(sent.subtracting(copies.keys).isEmpty, "lost: \(sent.subtracting(copies.keys))")
                    // Each request either waited in the queue until the deadline or was refused at once.
                    let refused = filterd.logLines(containing: "The broker refused the request").count
                    #expect(refused > 0, "the queue never reached its limit")
                    #expect(
                        filterd.logLines(containing: "No reply before the deadline").count
                            == Self.messageCount - refused)
                    #expect(ContinuousClock.now - started < .seconds(25))
                }
            }
        }
    }

    @Test("the broker restarted in the middle of a load: all mail arrives")
    func brokerRestartedUnderLoad() async throws {
        let broker = BrokerNode.restartable
        // The node is this test's alone: stopped at the end, so that nothing is left running.
        do {
            try await SMTPSink.withRunning { sink in
                try await BrokerFixture.withFixture(broker: broker) { fixture in
                    let owner = try await fixture.addOwner("j.smith")
                    try await FilterClientProcess.withRunning({
                        try await .swift(broker: broker, credentials: owner, block: [])
                    }) { _ in
                        // The web listener serves /metrics, where the reconnections must show.
                        let webPort = try freePort()
                        var filtering = fixture.filtering(deadline: 5, configuration: ["subscription_cache: 1"])
                        filtering.extraArguments = ["--web", "127.0.0.1:\(webPort)"]
                        try await FilterdProcess.withRunning(nextHopPort: sink.port, filtering: filtering) { filterd in
                            let load = PacedMailSender()
                            async let sending: Void = load.run(
                                port: filterd.listenPort, from: "friend@example.test", to: owner.user)
                            try await load.waitForSent(atLeast: 20, timeout: .seconds(60))
                            let sentBeforeStop = load.sentMessageIDs.count
                            try await broker.stop()
                            let sentWhileStopped = load.sentMessageIDs.count - sentBeforeStop
                            try await broker.start()
                            // Keep the load going while the server and the client reconnect.
                            try await Task.sleep(for: .seconds(3))
                            load.stop()
                            try await sending
                            let sent = Set(load.sentMessageIDs)
                            let copies = try await sink.waitForMessageIDs(sent, timeout: .seconds(60))
                            try await filterd.waitForEmptySpool()
                            print(
                                """
                                BrokerRestart: sent \(sent.count) (\(sentBeforeStop) before the stop, \
                                \(sentWhileStopped) while the broker stopped), arrived \(copies.count) distinct, \
                                decided by the client \(filterd.logLines(containing: "Owner decided").count), \
                                broker unavailable \(filterd.logLines(containing: "Broker unavailable").count), \
                                deadline \(filterd.logLines(containing: "No reply before the deadline").count)
                                """)
                            #expect(sentWhileStopped > 0, "the load did not overlap the broker's stop")
                            #expect(
                                sent.subtracting(copies.keys).isEmpty, "lost: \(sent.subtracting(copies.keys).count)")
                            // The client came back: mail sent after the restart is decided by it again.
                            try await broker.waitForConsumers(of: owner.user, count: 1, timeout: .seconds(30))
                            // Past the subscription cache, which may hold "offline" from the reconnection.
                            try await Task.sleep(for: .seconds(1.5))
                            let decidedBefore = filterd.logLines(containing: "Owner decided").count
                            let after = try await Swaks.sendMessage(
                                port: filterd.listenPort, from: "friend@example.test", to: owner.user,
                                subject: "after")
                            _ = try await sink.waitForMessageIDs([after], timeout: .seconds(30))
                            #expect(filterd.logLines(containing: "Owner decided").count == decidedBefore + 1)
                            // What an operator's curl of /metrics sees: both broker connections came back.
                            let metrics = try await MetricsScrape.fetch(port: webPort)
                            for role in ["publisher", "consumer"] {
                                #expect(
                                    MetricsScrape.sum(metrics, "filterd_broker_reconnects_total", "connection=\"\(role)\"") >= 1,
                                    "\(metrics)")
                            }
                        }
                    }
                }
            }
        } catch {
            try? await broker.stop()
            throw error
        }
        try await broker.stop()
    }

    // MARK: - Helpers

    private static func waitForLogCount(_ filterd: FilterdProcess, _ text: String, _ count: Int)
        async throws
    {
        let deadline = ContinuousClock.now + .seconds(30)
        while filterd.logLines(containing: text).count < count {
            guard ContinuousClock.now < deadline else {
                throw HarnessError(
                    code: .timedOut, message: "fewer than \(count) lines \"\(text)\":\n\(filterd.log)")
            }
            try await Task.sleep(for: .milliseconds(100))
        }
    }

    /// The distinct `filter.request.id` values in log lines.
    private static func requestIDs(_ lines: [String]) -> Set<String> {
        Set(
            lines.compactMap { line in
                guard let range = line.range(of: "filter.request.id=") else { return nil }
                return line[range.upperBound...].split(whereSeparator: {
                    $0 == " " || $0 == "," || $0 == "]"
                }).first.map(String.init)
            })
    }
}
