import FilterQueue
import Foundation
import Testing

/// The conformance suite against the in-memory backend.
@Suite("InMemoryTransport conformance")
struct InMemoryTransportConformanceTests {
    @Test(arguments: TransportConformance.properties)
    func conforms(_ property: TransportConformance.Property) async throws {
        try await property.check(InMemoryBackend())
    }
}

/// What the in-memory backend promises beyond the conformance suite: the rules a RabbitMQ
/// broker enforces on its own, stream cancellation, and speed under concurrency.
@Suite("InMemoryTransport")
struct InMemoryTransportTests {
    typealias Support = ConformanceSupport

    @Test func cancellingTheStreamRedeliversUnacknowledgedRequests() async throws {
        try await Support.withTimeLimit {
            let backend = InMemoryBackend()
            let owner = Support.uniqueOwner("cancel")
            try await backend.subscribe(owner: owner, maxLengthBytes: nil)
            let server = try await backend.server()
            let client = try await backend.client(owner: owner)
            let sent = Support.request(owner: owner, serverID: "s1")
            #expect(try await server.publish(sent) == .accepted)

            // Only the consumer task holds the stream, so ending the task ends the stream: a
            // reference kept here would keep the consumer registered.
            let consumer = Task {
                var iterator = try await client.requests(owner: owner, prefetch: 1).makeAsyncIterator()
                let first = try await iterator.next()
                try await Task.sleep(for: .seconds(3600))
                return first
            }
            #expect(try await Support.eventually { try await server.subscription(of: owner) == .online(consumers: 1) })
            consumer.cancel()
            _ = await consumer.result
            #expect(try await Support.eventually { try await server.subscription(of: owner) == .offline })

            var again = try await client.requests(owner: owner, prefetch: 1).makeAsyncIterator()
            let redelivered = try await Support.next(&again, "the request came again")
            #expect(redelivered.id == sent.id)
            #expect(redelivered.redelivered)
            await client.shutdown()
            await server.shutdown()
        }
    }

    @Test func requestThatExpiredWhileUnacknowledgedIsNotRedelivered() async throws {
        try await Support.withTimeLimit {
            let backend = InMemoryBackend()
            let owner = Support.uniqueOwner("expired-unacked")
            try await backend.subscribe(owner: owner, maxLengthBytes: nil)
            let server = try await backend.server()
            let expiring = Support.request(owner: owner, serverID: "s1", expiration: .milliseconds(100))
            #expect(try await server.publish(expiring) == .accepted)

            let first = try await backend.client(owner: owner)
            var held = try await first.requests(owner: owner, prefetch: 1).makeAsyncIterator()
            #expect(try await Support.next(&held, "the expiring request arrived").id == expiring.id)
            try await Task.sleep(for: .milliseconds(300))
            await first.shutdown()

            let lasting = Support.request(owner: owner, serverID: "s1")
            #expect(try await server.publish(lasting) == .accepted)
            let second = try await backend.client(owner: owner)
            var requests = try await second.requests(owner: owner, prefetch: 1).makeAsyncIterator()
            #expect(try await Support.next(&requests, "the lasting request arrived").id == lasting.id)
            await second.shutdown()
            await server.shutdown()
        }
    }

    @Test func replyQueueIsConsumedExclusively() async throws {
        try await Support.withTimeLimit {
            let backend = InMemoryBackend()
            let first = try await backend.server()
            let second = try await backend.server()
            let replies = try await first.replies(serverID: "s1")
            await Support.expectAccessRefused("a second consumer of the reply queue") {
                () throws(TransportError) in try await second.replies(serverID: "s1")
            }
            await first.shutdown()
            var taken = try await second.replies(serverID: "s1").makeAsyncIterator()
            withExtendedLifetime(replies) {}

            let owner = Support.uniqueOwner("exclusive")
            try await backend.subscribe(owner: owner, maxLengthBytes: nil)
            let client = try await backend.client(owner: owner)
            var requests = try await client.requests(owner: owner, prefetch: 1).makeAsyncIterator()
            #expect(try await second.publish(Support.request(owner: owner, serverID: "s1")) == .accepted)
            let request = try await Support.next(&requests, "the request arrived")
            try await client.reply(try Support.reply(to: request), to: request)
            #expect(try await Support.next(&taken, "the reply arrived").correlationID == request.id)
            await client.shutdown()
            await second.shutdown()
        }
    }

    /// As after `filterctl setup` on RabbitMQ: a server added with its id has its reply queue
    /// before it consumes, so a reply that comes first waits for it. Without the id the same
    /// reply is not taken; the client gives the request back and answers it again once the
    /// server consumes.
    @Test(arguments: [true, false]) func replyBeforeTheServerConsumesWaitsInADeclaredQueue(declared: Bool) async throws {
        try await Support.withTimeLimit {
            let broker = InMemoryBroker()
            broker.addServer(user: "filterd", serverID: declared ? "s1" : nil)
            let owner = Support.uniqueOwner("early")
            try broker.subscribe(owner: owner, user: owner)
            let server = InMemoryTransport(broker: broker, user: "filterd")
            let client = InMemoryTransport(broker: broker, user: owner)
            var requests = try await client.requests(owner: owner, prefetch: 1).makeAsyncIterator()
            #expect(try await server.publish(Support.request(owner: owner, serverID: "s1")) == .accepted)
            let request = try await Support.next(&requests, "the request arrived")
            if declared {
                try await client.reply(try Support.reply(to: request), to: request)
                var replies = try await server.replies(serverID: "s1").makeAsyncIterator()
                #expect(try await Support.next(&replies, "the early reply arrived").correlationID == request.id)
            } else {
                await #expect(throws: TransportError.self) { try await client.reply(try Support.reply(to: request), to: request) }
                var replies = try await server.replies(serverID: "s1").makeAsyncIterator()
                try await client.requeue(request)
                let again = try await Support.next(&requests, "the requeued request came again")
                #expect(again.id == request.id && again.redelivered)
                try await client.reply(try Support.reply(to: again), to: again)
                #expect(try await Support.next(&replies, "the second answer arrived").correlationID == request.id)
            }
            await client.shutdown()
            await server.shutdown()
        }
    }

    @Test func unacknowledgedRepliesGoToTheNextServer() async throws {
        try await Support.withTimeLimit {
            let backend = InMemoryBackend()
            let owner = Support.uniqueOwner("replies")
            try await backend.subscribe(owner: owner, maxLengthBytes: nil)
            let server = try await backend.server()
            var replies = try await server.replies(serverID: "s1").makeAsyncIterator()
            let client = try await backend.client(owner: owner)
            var requests = try await client.requests(owner: owner, prefetch: 1).makeAsyncIterator()
            #expect(try await server.publish(Support.request(owner: owner, serverID: "s1")) == .accepted)
            let request = try await Support.next(&requests, "the request arrived")
            try await client.reply(try Support.reply(to: request), to: request)
            let unacknowledged = try await Support.next(&replies, "the reply arrived")
            await server.shutdown()

            let successor = try await backend.server()
            var again = try await successor.replies(serverID: "s1").makeAsyncIterator()
            let redelivered = try await Support.next(&again, "the reply came again")
            #expect(redelivered.correlationID == unacknowledged.correlationID)
            #expect(redelivered.userID == owner)
            await client.shutdown()
            await successor.shutdown()
        }
    }

    @Test func onlyServersPublishRequestsAndOnlyOwnersReply() async throws {
        try await Support.withTimeLimit {
            let backend = InMemoryBackend()
            let owner = Support.uniqueOwner("roles")
            try await backend.subscribe(owner: owner, maxLengthBytes: nil)
            let client = InMemoryTransport(broker: backend.broker, user: owner)
            let stranger = InMemoryTransport(broker: backend.broker, user: "stranger")
            for transport in [client, stranger] {
                do throws(TransportError) {
                    _ = try await transport.publish(Support.request(owner: owner, serverID: "s1"))
                    Issue.record("\(transport.user) published a request")
                } catch {
                    #expect(error.code == .accessRefused)
                }
            }
            let server = try await backend.server()
            var requests = try await client.requests(owner: owner, prefetch: 1).makeAsyncIterator()
            #expect(try await server.publish(Support.request(owner: owner, serverID: "s1")) == .accepted)
            let request = try await Support.next(&requests, "the request arrived")
            let reply = try Support.reply(to: request)
            do throws(TransportError) {
                try await server.reply(reply, to: request)
                Issue.record("the server published a reply")
            } catch {
                #expect(error.code == .accessRefused)
            }
            #expect(try await stranger.subscription(of: owner) == .online(consumers: 1))
            await client.shutdown()
            await server.shutdown()
            await stranger.shutdown()
        }
    }

    /// Clients that come and go in the middle of a load, leaving requests unacknowledged: every
    /// request is still answered, and a request answered twice was redelivered.
    @Test func clientsComingAndGoingLoseNothing() async throws {
        let backend = InMemoryBackend()
        let owners = (0..<3).map { Support.uniqueOwner("churn\($0)") }
        let perOwner = 2_000
        for owner in owners { try await backend.subscribe(owner: owner, maxLengthBytes: nil) }
        let server = try await backend.server()
        let replies = try await server.replies(serverID: "churn")
        var sent: Set<String> = []
        for owner in owners {
            for _ in 0..<perOwner {
                let request = Support.request(owner: owner, serverID: "churn")
                sent.insert(request.id)
                #expect(try await server.publish(request) == .accepted)
            }
        }
        let expected = sent
        let bodies = try await Support.withTimeLimit { () async throws -> [String: [String]] in
            try await withThrowingTaskGroup(of: Void.self) { group in
                for owner in owners + owners {
                    group.addTask {
                        // Each client answers a few requests, then vanishes holding up to
                        // `prefetch` more; the next one takes over.
                        while !Task.isCancelled {
                            let client = try await backend.client(owner: owner)
                            var requests = try await client.requests(owner: owner, prefetch: 8).makeAsyncIterator()
                            for _ in 0..<Int.random(in: 1...150) {
                                guard let request = try await requests.next() else { break }
                                let id = try #require(request.id)
                                let body = Array((request.redelivered ? "redelivered" : "first").utf8)
                                try await client.reply(OutgoingReply(id: id, serverID: "churn", body: body), to: request)
                            }
                            await client.shutdown()
                        }
                    }
                }
                var seen: [String: [String]] = [:]
                for try await reply in replies {
                    seen[reply.correlationID ?? "", default: []].append(String(decoding: reply.body, as: UTF8.self))
                    try await server.acknowledge(reply)
                    if seen.count == expected.count { break }
                }
                group.cancelAll()
                try await group.waitForAll()
                return seen
            }
        }
        #expect(Set(bodies.keys) == expected)
        let duplicates = bodies.filter { $0.value.count > 1 }
        #expect(duplicates.allSatisfy { $0.value.contains("redelivered") })
        // Dozens of clients vanished holding prefetched requests: some came again.
        #expect(bodies.values.contains { $0.contains("redelivered") })
        print("in-memory churn: \(expected.count) requests, \(duplicates.count) answered twice after redelivery")
        await server.shutdown()
    }

    /// An events queue nobody reads keeps the newest events up to its size limit
    /// (`overflow=drop-head`), and publishing never fails for it.
    @Test func fullEventsQueueDropsTheOldestEvents() async throws {
        let backend = InMemoryBackend()
        let owner = Support.uniqueOwner("events-full")
        try await backend.subscribe(owner: owner, maxLengthBytes: nil)
        let server = try await backend.server()
        let size = 1 << 20
        let limit = QueueLimits.eventQueueDefault.maxLengthBytes
        let events = (0..<(limit / size + 3)).map { _ in Support.event(owner: owner, body: [UInt8](repeating: 0x20, count: size)) }
        for event in events { try await server.publishEvent(event) }

        let client = try await backend.client(owner: owner)
        var received = try await client.events(owner: owner, prefetch: 0).makeAsyncIterator()
        let kept = limit / size
        for event in events.suffix(kept) {
            #expect(try await Support.next(&received, "a kept event arrived").id == event.id)
        }
        await client.shutdown()
        await server.shutdown()
    }

    @Test func tooLongOwnerCannotSubscribe() {
        let broker = InMemoryBroker()
        let owner = String(repeating: "a", count: 240) + "@example.test"
        #expect(throws: TopologyError.self) { try broker.subscribe(owner: owner, user: owner) }
    }

    /// Many owners, clients and publishers at once: every request answered exactly once, and
    /// thousands per second even in a debug build.
    @Test func concurrentLoadIsAnsweredExactlyOnce() async throws {
        let backend = InMemoryBackend()
        let owners = (0..<8).map { Support.uniqueOwner("load\($0)") }
        let perOwner = 2_500
        let total = owners.count * perOwner
        for owner in owners { try await backend.subscribe(owner: owner, maxLengthBytes: nil) }
        let server = try await backend.server()
        let replies = try await server.replies(serverID: "load")
        let clients = try await withThrowingTaskGroup(of: (any FilterTransport).self) { group in
            for owner in owners + owners { group.addTask { try await backend.client(owner: owner) } }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        let started = ContinuousClock.now
        let answered = try await Support.withTimeLimit { () async throws -> [String: Int] in
            try await withThrowingTaskGroup(of: Void.self) { group in
                for client in clients {
                    guard let owner = (client as? InMemoryTransport)?.user else { continue }
                    group.addTask {
                        for try await request in try await client.requests(owner: owner, prefetch: 32) {
                            try await client.reply(try Support.reply(to: request), to: request)
                        }
                    }
                }
                for owner in owners {
                    group.addTask {
                        for _ in 0..<perOwner {
                            let outcome = try await server.publish(Support.request(owner: owner, serverID: "load"))
                            #expect(outcome == .accepted)
                        }
                    }
                }
                var seen: [String: Int] = [:]
                for try await reply in replies {
                    seen[reply.correlationID ?? "", default: 0] += 1
                    try await server.acknowledge(reply)
                    if seen.count == total { break }
                }
                for client in clients { await client.shutdown() }
                try await group.waitForAll()
                return seen
            }
        }
        let elapsed = ContinuousClock.now - started
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        print("in-memory transport: \(total) round trips in \(elapsed), \(Int(Double(total) / seconds))/s")
        #expect(answered.count == total)
        #expect(answered.values.allSatisfy { $0 == 1 })
        #expect(Double(total) / seconds > 1_000)
        await server.shutdown()
    }
}
