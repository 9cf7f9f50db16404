import FilterCore
import Foundation
import Testing

@testable import FilterWeb

@Suite struct ConsoleLiveTests {
    @Test func userGetsOwnRowsOnlyAndAdminGetsEvery() async throws {
        let fixture = try ConsoleFixture()
        defer { fixture.remove() }
        try await withWebServer(features: fixture.features()) { client in
            let port = try #require(client.base.port)
            let alice = try await EventStreamReader.read(
                port: port, headers: TestIdentity.user("alice@example.test"),
                action: {
                    // Bob's row is recorded first: had it been sent to alice, it would come before hers.
                    try await fixture.record(queueID: "QLIVEBOB", recipient: "bob@example.test", subject: "bob's secret")
                    try await fixture.record(queueID: "QLIVEALICE", recipient: "alice@example.test", subject: "<b>hi</b> alice")
                },
                until: { $0.contains("QLIVEALICE") })
            #expect(alice.hasPrefix("HTTP/1.1 200"))
            #expect(alice.lowercased().contains("content-type: text/event-stream"))
            #expect(alice.contains("event: status\ndata: {\"stats\":{"))
            #expect(alice.contains("event: row\nid: "))
            #expect(alice.contains("\"queueID\":\"QLIVEALICE\""))
            #expect(alice.contains("\"subject\":\"<b>hi<"))
            #expect(!alice.contains("QLIVEBOB"))
            #expect(!alice.contains("bob's secret"))
            #expect(!alice.contains("queueDepth"))

            let admin = try await EventStreamReader.read(
                port: port, headers: TestIdentity.admin,
                action: {
                    try await fixture.record(queueID: "QADMIN1", recipient: "bob@example.test")
                    try await fixture.record(queueID: "QADMIN2", recipient: "alice@example.test")
                },
                until: { $0.contains("QADMIN2") })
            #expect(admin.contains("\"queueID\":\"QADMIN1\""))
            #expect(admin.contains("\"queueDepth\":\"0\""))
        }
    }

    @Test func sendsStatusAndKeepAliveAndEndsWhenTheClientGoesAway() async throws {
        let fixture = try ConsoleFixture()
        defer { fixture.remove() }
        let configuration = ConsoleConfiguration(statusInterval: .milliseconds(100), keepAliveInterval: .milliseconds(100))
        try await withWebServer(features: fixture.features(configuration)) { client in
            let port = try #require(client.base.port)
            let text = try await EventStreamReader.read(
                port: port, headers: TestIdentity.admin, action: {},
                until: { $0.components(separatedBy: "event: status").count > 2 && $0.contains(": keep-alive\n\n") })
            #expect(text.contains(": keep-alive\n\n"))
            // The reader closed its connection: the next keep-alive write fails and the
            // stream's subscription to the log ends.
            for _ in 0..<600 where fixture.messageLog.liveSubscriberCount > 0 {
                try await Task.sleep(for: .milliseconds(100))
            }
            #expect(fixture.messageLog.liveSubscriberCount == 0)
        }
    }

    @Test func gracefulShutdownEndsAnOpenStream() async throws {
        let fixture = try ConsoleFixture()
        defer { fixture.remove() }
        let (opened, signal) = AsyncStream.makeStream(of: Void.self)
        let reader = try await withWebServer(features: fixture.features()) { client in
            let port = try #require(client.base.port)
            let reader = Task {
                // Reads until the server ends the stream: only the shutdown can end it.
                try await EventStreamReader.read(port: port, headers: TestIdentity.admin, action: { signal.yield() }, until: { _ in false })
            }
            var iterator = opened.makeAsyncIterator()
            await iterator.next()
            return reader
        }
        let text = try await reader.value
        #expect(text.contains("event: status"))
    }
}
