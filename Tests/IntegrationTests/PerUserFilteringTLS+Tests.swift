import Foundation
import Testing

/// Per-user filtering over `amqps://`: `filterd server` and `filterd client` both talk TLS to
/// RabbitMQ's own TLS listener (`BrokerNode.tls`), verifying its certificate for `localhost`
/// against the CA made for the node. Mail goes swaks → `filterd server` → smtp-sink.
@Suite("Per-user filtering over TLS", .enabled(if: Repository.integrationEnabled), .serialized)
struct PerUserFilteringTLSTests {
    @Test("filterd server and filterd client over amqps:// decide each message: one kept, one denied")
    func serverAndClientOverTLSDecide() async throws {
        try await SMTPSink.withRunning { sink in
            try await BrokerFixture.withFixture(broker: .tls) { fixture in
                let owner = try await fixture.addOwner("tls")
                let filtering = fixture.filtering(deadline: 60)
                #expect(filtering.amqpURL.hasPrefix("amqps://filterd-\(fixture.serverID)@localhost:"))
                try await FilterdProcess.withRunning(nextHopPort: sink.port, filtering: filtering) { filterd in
                    try await FilterClientProcess.withRunning({
                        try await FilterClientProcess.swift(
                            broker: fixture.broker, credentials: owner, block: ["@spam.example"])
                    }) { client in
                        let kept = try await Swaks.sendMessage(
                            port: filterd.listenPort, from: "friend@example.test", to: owner.user, subject: "kept")
                        let blocked = try await Swaks.sendMessage(
                            port: filterd.listenPort, from: "bulk@spam.example", to: owner.user, subject: "blocked")
                        let copies = try await sink.waitForMessageIDs([kept], timeout: .seconds(30))
                        try await filterd.waitForEmptySpool()
                        #expect(copies[kept] == 1)
                        #expect(copies[blocked] == nil, "the blocked sender's mail was delivered")
                        let decided = filterd.logLines(containing: "Owner decided")
                        #expect(decided.count == 2, "\(filterd.log)")
                        #expect(decided.filter { $0.contains("filter.action=deny") }.count == 1, "\(decided)")
                        #expect(filterd.logLines(containing: "No reply before the deadline").isEmpty)
                        #expect(client.logLines(containing: "Answered").count == 2)
                    }
                }
            }
        }
    }
}
