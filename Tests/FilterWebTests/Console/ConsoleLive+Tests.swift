import FilterCore
import Foundation
import Hummingbird
import Synchronization
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

    @Test func streamsBeyondTheLimitOfOneLoginGet429() async throws {
        let fixture = try ConsoleFixture()
        defer { fixture.remove() }
        let configuration = ConsoleConfiguration(maximumLiveStreamsPerUser: 1)
        let (opened, signal) = AsyncStream.makeStream(of: Void.self)
        let (refused, report) = AsyncStream.makeStream(of: Int.self)
        try await withWebServer(features: fixture.features(configuration)) { client in
            let port = try #require(client.base.port)
            let first = Task {
                try await EventStreamReader.read(port: port, headers: TestIdentity.admin, action: { signal.yield() }, until: { _ in false })
            }
            var iterator = opened.makeAsyncIterator()
            await iterator.next()
            let second = try await client.get("/live", headers: TestIdentity.admin)
            report.yield(second.status)
            #expect(second.headers["retry-after"] == "30")
            let other = Task {
                try await EventStreamReader.read(
                    port: port, headers: TestIdentity.user("alice@example.test"), action: {}, until: { $0.contains("event: status") })
            }
            #expect(try await other.value.hasPrefix("HTTP/1.1 200"), "another login has streams of its own")
            first.cancel()
        }
        var statuses = refused.makeAsyncIterator()
        #expect(await statuses.next() == 429)
    }

    /// Stands in for the session middleware's liveness check: a switch the test turns off.
    final class SessionSwitch: WebFeature, RouterMiddleware, Sendable {
        typealias Context = WebRequestContext
        let isLive = Mutex(true)

        func addRoutes(to router: Router<WebRequestContext>) { router.add(middleware: self) }

        func handle(
            _ request: Request, context: Context, next: (Request, Context) async throws -> Response
        ) async throws -> Response {
            var context = context
            context.sessionIsLive = { [self] in isLive.withLock { $0 } }
            return try await next(request, context)
        }
    }

    @Test func anOpenStreamEndsWhenTheSessionEnds() async throws {
        let fixture = try ConsoleFixture()
        defer { fixture.remove() }
        let session = SessionSwitch()
        let configuration = ConsoleConfiguration(statusInterval: .milliseconds(100), keepAliveInterval: .milliseconds(100))
        try await withWebServer(features: [session] + fixture.features(configuration)) { client in
            let port = try #require(client.base.port)
            // Only the server can end the response (its last, empty chunk): it does once the
            // session is gone (logout).
            let text = try await EventStreamReader.read(
                port: port, headers: TestIdentity.admin, action: { session.isLive.withLock { $0 = false } },
                until: { $0.hasSuffix("\r\n0\r\n\r\n") })
            #expect(text.contains("event: status"))
        }
    }
}
