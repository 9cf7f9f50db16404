import FilterQueue
import Foundation
import Testing

/// The properties every ``FilterTransport`` backend must have (FilterTransport.swift,
/// docs/protocol.md), one function per property, each run against one backend.
///
/// Backend-neutral: every name is unique (several checkouts share one broker), nothing assumes
/// in-memory speed, and every wait is positive (for something that must arrive) and bounded by
/// ``ConformanceSupport/timeLimit``. Where a property is about something *not* arriving, a later
/// message that must arrive first proves it, so no test waits for silence.
enum TransportConformance {
    typealias Support = ConformanceSupport

    /// One property of the suite, by name, for `@Test(arguments: TransportConformance.properties)`.
    struct Property: Sendable, CustomTestStringConvertible {
        /// The property's name in test output.
        let name: String
        /// Checks the property against a backend.
        let check: @Sendable (any TransportBackend) async throws -> Void

        var testDescription: String { name }
    }

    /// Every property, in the order they are documented below.
    static let properties: [Property] = [
        Property(name: "round trip preserves every field", check: roundTripPreservesEveryField),
        Property(name: "subscription reports queue and consumers", check: subscriptionReportsQueueAndConsumers),
        Property(name: "request without queue is unroutable", check: requestWithoutQueueIsUnroutable),
        Property(name: "request over the length limit is rejected", check: requestOverLengthLimitIsRejected),
        Property(name: "expired request is never delivered", check: expiredRequestIsNeverDelivered),
        Property(name: "unacknowledged request is redelivered", check: unacknowledgedRequestIsRedelivered),
        Property(name: "reply carries the replying client's user", check: replyCarriesTheReplyingClientsUser),
        Property(name: "acknowledged messages are not delivered again", check: acknowledgedMessagesAreNotDeliveredAgain),
        Property(name: "discarded request is not delivered again", check: discardedRequestIsNotDeliveredAgain),
        Property(name: "reply not taken leaves the request to requeue", check: replyNotTakenLeavesTheRequestToRequeue),
        Property(name: "client cannot consume another owner's queue", check: clientCannotConsumeAnotherOwnersQueue),
        Property(name: "prefetch bounds unacknowledged deliveries", check: prefetchBoundsUnacknowledgedDeliveries),
        Property(name: "events reach only their owner's events queue", check: eventsReachOnlyTheirOwnersEventsQueue),
        Property(name: "shutdown finishes streams", check: shutdownFinishesStreams),
    ]

    /// A request reaches the owner's client and the reply reaches the server, with every field
    /// intact: ids, reply-to, queue id, metadata, body bytes (NUL and 8-bit included), and the
    /// replying client's user id.
    static func roundTripPreservesEveryField(_ backend: any TransportBackend) async throws {
        try await Support.withTimeLimit {
            let owner = Support.uniqueOwner("roundtrip")
            let serverID = Support.uniqueServerID("roundtrip")
            try await backend.subscribe(owner: owner, maxLengthBytes: nil)
            let server = try await backend.server()
            let client = try await backend.client(owner: owner)
            var replies = try await server.replies(serverID: serverID).makeAsyncIterator()
            var requests = try await client.requests(owner: owner, prefetch: 1).makeAsyncIterator()

            let body = Array("Subject: =?utf-8?q?Gr=C3=BC=C3=9Fe?=\r\n\r\n".utf8) + [0x00, 0x0D, 0x0A, 0x2E]
                + (0...255).map { UInt8($0) } + Array("\r\n".utf8)
            let metadata = #"{"envelope":{"mailFrom":"jörg@example.test"},"id":"x","version":1}"#
            let sent = Support.request(owner: owner, serverID: serverID, body: body, metadata: metadata)
            #expect(try await server.publish(sent) == .accepted)

            let delivered = try await Support.next(&requests, "the request arrived")
            #expect(delivered.id == sent.id)
            #expect(delivered.replyTo == serverID)
            #expect(delivered.queueID == sent.queueID)
            #expect(delivered.metadata == metadata)
            #expect(delivered.body == body)
            #expect(!delivered.redelivered)

            let replyBody = Array(#"{"version":1,"id":"\#(sent.id)","action":"pass","reason":"naïve\u0000"}"#.utf8) + [0xFF]
            try await client.reply(OutgoingReply(id: sent.id, serverID: serverID, body: replyBody), to: delivered)

            let received = try await Support.next(&replies, "the reply arrived")
            #expect(received.correlationID == sent.id)
            #expect(received.userID == owner)
            #expect(received.type == "mailfilter.reply.v1")
            #expect(received.body == replyBody)
            try await server.acknowledge(received)

            await client.shutdown()
            await server.shutdown()
        }
    }

    /// A passive declare tells an owner without a queue (`none`) from one whose queue nobody
    /// consumes (`offline`) and counts the consumers of one that is consumed (`online`).
    static func subscriptionReportsQueueAndConsumers(_ backend: any TransportBackend) async throws {
        try await Support.withTimeLimit {
            let owner = Support.uniqueOwner("subscription")
            let server = try await backend.server()
            #expect(try await server.subscription(of: owner) == Subscription.none)
            #expect(try await server.subscription(of: Support.uniqueOwner("never")) == Subscription.none)

            try await backend.subscribe(owner: owner, maxLengthBytes: nil)
            #expect(try await server.subscription(of: owner) == .offline)

            let first = try await backend.client(owner: owner)
            let firstStream = try await first.requests(owner: owner, prefetch: 1)
            #expect(try await Support.eventually { try await server.subscription(of: owner) == .online(consumers: 1) })

            let second = try await backend.client(owner: owner)
            let secondStream = try await second.requests(owner: owner, prefetch: 1)
            #expect(try await Support.eventually { try await server.subscription(of: owner) == .online(consumers: 2) })

            await first.shutdown()
            #expect(try await Support.eventually { try await server.subscription(of: owner) == .online(consumers: 1) })
            await second.shutdown()
            #expect(try await Support.eventually { try await server.subscription(of: owner) == .offline })
            withExtendedLifetime((firstStream, secondStream)) {}
            await server.shutdown()
        }
    }

    /// A request for an owner without a queue comes back as unroutable (`mandatory`).
    static func requestWithoutQueueIsUnroutable(_ backend: any TransportBackend) async throws {
        try await Support.withTimeLimit {
            let server = try await backend.server()
            let request = Support.request(owner: Support.uniqueOwner("unroutable"), serverID: Support.uniqueServerID("unroutable"))
            #expect(try await server.publish(request) == .unroutable)
            await server.shutdown()
        }
    }

    /// A queue at its length limit (`max-length-bytes`, `overflow=reject-publish`) refuses
    /// further requests, and takes them again once its client has drained it.
    static func requestOverLengthLimitIsRejected(_ backend: any TransportBackend) async throws {
        try await Support.withTimeLimit {
            let owner = Support.uniqueOwner("limit")
            let serverID = Support.uniqueServerID("limit")
            let limit = 1000
            let body = [UInt8](repeating: UInt8(ascii: "x"), count: 400)
            try await backend.subscribe(owner: owner, maxLengthBytes: limit)
            let server = try await backend.server()
            var replies = try await server.replies(serverID: serverID).makeAsyncIterator()

            var accepted = 0
            var outcome = PublishOutcome.accepted
            // Backends differ on whether the message that crosses the limit still gets in
            // (classic versus quorum queues); both stop at most one message past it.
            while outcome == .accepted && accepted <= limit / body.count + 1 {
                outcome = try await server.publish(Support.request(owner: owner, serverID: serverID, body: body))
                if outcome == .accepted { accepted += 1 }
            }
            #expect(outcome == .rejected)
            #expect(accepted >= 1)
            #expect(accepted * body.count <= limit + body.count)

            let client = try await backend.client(owner: owner)
            var requests = try await client.requests(owner: owner, prefetch: accepted).makeAsyncIterator()
            for _ in 0..<accepted {
                let request = try await Support.next(&requests, "a queued request arrived")
                try await client.reply(try Support.reply(to: request), to: request)
                try await server.acknowledge(try await Support.next(&replies, "a reply arrived"))
            }
            #expect(try await server.publish(Support.request(owner: owner, serverID: serverID, body: body)) == .accepted)
            _ = try await Support.next(&requests, "the request after draining arrived")

            await client.shutdown()
            await server.shutdown()
        }
    }

    /// A request whose expiration passed while it waited in the queue is dropped, wherever it
    /// stood: the client that connects later gets the requests around it, in order, and never it.
    static func expiredRequestIsNeverDelivered(_ backend: any TransportBackend) async throws {
        try await Support.withTimeLimit {
            let owner = Support.uniqueOwner("expiry")
            let serverID = Support.uniqueServerID("expiry")
            try await backend.subscribe(owner: owner, maxLengthBytes: nil)
            let server = try await backend.server()

            let expiringFirst = Support.request(owner: owner, serverID: serverID, expiration: .milliseconds(200))
            let lasting = Support.request(owner: owner, serverID: serverID)
            let expiringBetween = Support.request(owner: owner, serverID: serverID, expiration: .milliseconds(200))
            for request in [expiringFirst, lasting, expiringBetween] {
                #expect(try await server.publish(request) == .accepted)
            }
            // Waiting out the expiration is the point of this property.
            try await Task.sleep(for: .seconds(1))
            let later = Support.request(owner: owner, serverID: serverID)
            #expect(try await server.publish(later) == .accepted)

            let client = try await backend.client(owner: owner)
            var requests = try await client.requests(owner: owner, prefetch: 10).makeAsyncIterator()
            let first = try await Support.next(&requests, "the lasting request arrived")
            let second = try await Support.next(&requests, "the later request arrived")
            #expect([first.id, second.id] == [lasting.id, later.id], "an expired request was delivered")

            await client.shutdown()
            await server.shutdown()
        }
    }

    /// Requests a client received but did not acknowledge come again, flagged redelivered, to
    /// the next client when the first goes away.
    static func unacknowledgedRequestIsRedelivered(_ backend: any TransportBackend) async throws {
        try await Support.withTimeLimit {
            let owner = Support.uniqueOwner("redelivery")
            let serverID = Support.uniqueServerID("redelivery")
            try await backend.subscribe(owner: owner, maxLengthBytes: nil)
            let server = try await backend.server()
            let sent = [
                Support.request(owner: owner, serverID: serverID), Support.request(owner: owner, serverID: serverID),
            ]
            for request in sent { #expect(try await server.publish(request) == .accepted) }

            let vanishing = try await backend.client(owner: owner)
            var firstRequests = try await vanishing.requests(owner: owner, prefetch: 10).makeAsyncIterator()
            for request in sent {
                let delivered = try await Support.next(&firstRequests, "request \(request.id) arrived")
                #expect(delivered.id == request.id)
                #expect(!delivered.redelivered)
            }
            await vanishing.shutdown()

            let successor = try await backend.client(owner: owner)
            var secondRequests = try await successor.requests(owner: owner, prefetch: 10).makeAsyncIterator()
            var redelivered: [String?] = []
            for _ in sent {
                let delivered = try await Support.next(&secondRequests, "a redelivered request arrived")
                #expect(delivered.redelivered)
                redelivered.append(delivered.id)
            }
            #expect(Set(redelivered) == Set(sent.map(\.id)))

            await successor.shutdown()
            await server.shutdown()
        }
    }

    /// The `user_id` of a reply is the broker user of the client that sent it, whatever request
    /// it claims to answer: alice answering bob's request still shows as alice. (An owner's
    /// broker user is named after the owner, as `filterctl user add` names it.)
    static func replyCarriesTheReplyingClientsUser(_ backend: any TransportBackend) async throws {
        try await Support.withTimeLimit {
            let alice = Support.uniqueOwner("alice")
            let bob = Support.uniqueOwner("bob")
            let serverID = Support.uniqueServerID("userid")
            try await backend.subscribe(owner: alice, maxLengthBytes: nil)
            try await backend.subscribe(owner: bob, maxLengthBytes: nil)
            let server = try await backend.server()
            var replies = try await server.replies(serverID: serverID).makeAsyncIterator()
            let aliceClient = try await backend.client(owner: alice)
            var aliceRequests = try await aliceClient.requests(owner: alice, prefetch: 1).makeAsyncIterator()

            let forAlice = Support.request(owner: alice, serverID: serverID)
            let forBob = Support.request(owner: bob, serverID: serverID)
            #expect(try await server.publish(forAlice) == .accepted)
            #expect(try await server.publish(forBob) == .accepted)

            let delivered = try await Support.next(&aliceRequests, "alice's request arrived")
            let impostor = OutgoingReply(
                id: forBob.id, serverID: serverID, body: Array(#"{"version":1,"id":"\#(forBob.id)","action":"pass"}"#.utf8))
            try await aliceClient.reply(impostor, to: delivered)
            let received = try await Support.next(&replies, "alice's reply arrived")
            #expect(received.correlationID == forBob.id)
            #expect(received.userID == alice)
            try await server.acknowledge(received)

            await aliceClient.shutdown()
            await server.shutdown()
        }
    }

    /// A request answered (and so acknowledged) and a reply acknowledged are gone: successors
    /// of the client and of the server get the next message first.
    static func acknowledgedMessagesAreNotDeliveredAgain(_ backend: any TransportBackend) async throws {
        try await Support.withTimeLimit {
            let owner = Support.uniqueOwner("acknowledge")
            let serverID = Support.uniqueServerID("acknowledge")
            try await backend.subscribe(owner: owner, maxLengthBytes: nil)
            let server = try await backend.server()
            var replies = try await server.replies(serverID: serverID).makeAsyncIterator()
            let client = try await backend.client(owner: owner)
            var requests = try await client.requests(owner: owner, prefetch: 1).makeAsyncIterator()

            let answered = Support.request(owner: owner, serverID: serverID)
            #expect(try await server.publish(answered) == .accepted)
            let delivered = try await Support.next(&requests, "the first request arrived")
            try await client.reply(try Support.reply(to: delivered), to: delivered)
            let firstReply = try await Support.next(&replies, "the first reply arrived")
            try await server.acknowledge(firstReply)
            await client.shutdown()
            await server.shutdown()

            let nextServer = try await backend.server()
            var nextReplies = try await nextServer.replies(serverID: serverID).makeAsyncIterator()
            let nextClient = try await backend.client(owner: owner)
            var nextRequests = try await nextClient.requests(owner: owner, prefetch: 1).makeAsyncIterator()
            let later = Support.request(owner: owner, serverID: serverID)
            #expect(try await nextServer.publish(later) == .accepted)
            let second = try await Support.next(&nextRequests, "the second request arrived")
            #expect(second.id == later.id, "the answered request \(answered.id) came again")
            #expect(!second.redelivered)
            try await nextClient.reply(try Support.reply(to: second), to: second)
            let secondReply = try await Support.next(&nextReplies, "the second reply arrived")
            #expect(secondReply.correlationID == later.id, "the acknowledged reply to \(answered.id) came again")
            try await nextServer.acknowledge(secondReply)

            await nextClient.shutdown()
            await nextServer.shutdown()
        }
    }

    /// A request the client discards (it cannot be answered) is acknowledged: the next client
    /// gets the next request first, not the discarded one again.
    static func discardedRequestIsNotDeliveredAgain(_ backend: any TransportBackend) async throws {
        try await Support.withTimeLimit {
            let owner = Support.uniqueOwner("discard")
            let serverID = Support.uniqueServerID("discard")
            try await backend.subscribe(owner: owner, maxLengthBytes: nil)
            let server = try await backend.server()
            let discarded = Support.request(owner: owner, serverID: serverID)
            let later = Support.request(owner: owner, serverID: serverID)

            let client = try await backend.client(owner: owner)
            var requests = try await client.requests(owner: owner, prefetch: 1).makeAsyncIterator()
            #expect(try await server.publish(discarded) == .accepted)
            let first = try await Support.next(&requests, "the request to discard arrived")
            #expect(first.id == discarded.id)
            try await client.discard(first)
            await client.shutdown()

            #expect(try await server.publish(later) == .accepted)
            let successor = try await backend.client(owner: owner)
            var nextRequests = try await successor.requests(owner: owner, prefetch: 1).makeAsyncIterator()
            let next = try await Support.next(&nextRequests, "the later request arrived")
            #expect(next.id == later.id, "the discarded request \(discarded.id) came again")
            #expect(!next.redelivered)
            try await successor.discard(next)

            await successor.shutdown()
            await server.shutdown()
        }
    }

    /// A reply to a server that has no reply queue comes back: `reply` throws `replyNotTaken`
    /// and leaves the request unacknowledged (docs/protocol.md, client rule 7); `requeue` gives
    /// it back, and it comes again, flagged redelivered, ahead of a later request.
    static func replyNotTakenLeavesTheRequestToRequeue(_ backend: any TransportBackend) async throws {
        try await Support.withTimeLimit {
            let owner = Support.uniqueOwner("requeue")
            let serverID = Support.uniqueServerID("requeue-nobody")
            try await backend.subscribe(owner: owner, maxLengthBytes: nil)
            let server = try await backend.server()
            let client = try await backend.client(owner: owner)
            var requests = try await client.requests(owner: owner, prefetch: 2).makeAsyncIterator()
            let sent = Support.request(owner: owner, serverID: serverID)
            #expect(try await server.publish(sent) == .accepted)
            let delivered = try await Support.next(&requests, "the request arrived")
            let answer = try Support.reply(to: delivered)
            do throws(TransportError) {
                try await client.reply(answer, to: delivered)
                Issue.record("a reply to a server without a reply queue was taken")
            } catch {
                #expect(error.code == .replyNotTaken, "\(error)")
            }
            let later = Support.request(owner: owner, serverID: serverID)
            #expect(try await server.publish(later) == .accepted)
            let second = try await Support.next(&requests, "the later request arrived beside the unacknowledged one")
            #expect(second.id == later.id)
            try await client.requeue(delivered)
            let again = try await Support.next(&requests, "the requeued request came again")
            #expect(again.id == sent.id)
            #expect(again.redelivered)
            try await client.discard(again)
            try await client.discard(second)

            await client.shutdown()
            await server.shutdown()
        }
    }

    /// A client can consume only its own queue: not another owner's (not even one whose name
    /// an unescaped permission regex would match) and not a server's reply queue.
    static func clientCannotConsumeAnotherOwnersQueue(_ backend: any TransportBackend) async throws {
        try await Support.withTimeLimit {
            let suffix = Support.uniqueServerID("regex")
            // `j.smith` unescaped would match `jxsmith`; `x|y` unescaped would match `y...`.
            let dotted = "j.smith.\(suffix)@example.test"
            let lookalike = "jxsmith.\(suffix)@example.test"
            let piped = "x|y.\(suffix)@example.test"
            let other = "y.\(suffix)@example.test"
            for owner in [dotted, lookalike, piped, other] {
                try await backend.subscribe(owner: owner, maxLengthBytes: nil)
            }
            let dottedClient = try await backend.client(owner: dotted)
            let pipedClient = try await backend.client(owner: piped)

            await Support.expectAccessRefused("j.smith consuming jxsmith's queue") {
                () throws(TransportError) in try await dottedClient.requests(owner: lookalike, prefetch: 1)
            }
            await Support.expectAccessRefused("x|y consuming y's queue") {
                () throws(TransportError) in try await pipedClient.requests(owner: other, prefetch: 1)
            }
            await Support.expectAccessRefused("a client consuming a server's reply queue") {
                () throws(TransportError) in try await dottedClient.replies(serverID: suffix)
            }
            // Its own queue still works after the refusals (a backend may need a new channel).
            let server = try await backend.server()
            var ownRequests = try await dottedClient.requests(owner: dotted, prefetch: 1).makeAsyncIterator()
            let request = Support.request(owner: dotted, serverID: suffix)
            #expect(try await server.publish(request) == .accepted)
            #expect(try await Support.next(&ownRequests, "its own request arrived").id == request.id)

            await dottedClient.shutdown()
            await pipedClient.shutdown()
            await server.shutdown()
        }
    }

    /// A client never holds more than `prefetch` unacknowledged requests; the rest wait for
    /// other clients, and answering one lets the next in.
    static func prefetchBoundsUnacknowledgedDeliveries(_ backend: any TransportBackend) async throws {
        try await Support.withTimeLimit {
            let owner = Support.uniqueOwner("prefetch")
            let serverID = Support.uniqueServerID("prefetch")
            try await backend.subscribe(owner: owner, maxLengthBytes: nil)
            let server = try await backend.server()
            let replies = try await server.replies(serverID: serverID)
            let sent = (0..<5).map { _ in Support.request(owner: owner, serverID: serverID) }
            for request in sent { #expect(try await server.publish(request) == .accepted) }

            let bounded = try await backend.client(owner: owner)
            var boundedRequests = try await bounded.requests(owner: owner, prefetch: 2).makeAsyncIterator()
            var held = [
                try await Support.next(&boundedRequests, "the first prefetched request arrived"),
                try await Support.next(&boundedRequests, "the second prefetched request arrived"),
            ]

            // If the bounded client had taken a third, this one could not get three.
            let other = try await backend.client(owner: owner)
            var otherRequests = try await other.requests(owner: owner, prefetch: 10).makeAsyncIterator()
            var rest: [DeliveredRequest] = []
            for _ in 0..<3 { rest.append(try await Support.next(&otherRequests, "a remaining request arrived")) }
            #expect(Set((held + rest).map(\.id)) == Set(sent.map(\.id)))

            // The other client goes away: its three come back, and the bounded client (full)
            // takes one only when it answers one.
            await other.shutdown()
            try await bounded.reply(try Support.reply(to: held[0]), to: held[0])
            held.append(try await Support.next(&boundedRequests, "a request arrived after answering one"))
            #expect(held[2].redelivered)
            #expect(rest.map(\.id).contains(held[2].id))

            await bounded.shutdown()
            await server.shutdown()
            withExtendedLifetime(replies) {}
        }
    }

    /// An event reaches its owner's events queue with its id, type and body intact, and no
    /// other owner's; an event for an owner without an events queue is no error (not
    /// `mandatory`). An owner can neither consume another owner's events queue nor publish
    /// events (ACCESS_REFUSED).
    static func eventsReachOnlyTheirOwnersEventsQueue(_ backend: any TransportBackend) async throws {
        try await Support.withTimeLimit {
            let alice = Support.uniqueOwner("events-alice")
            let bob = Support.uniqueOwner("events-bob")
            for owner in [alice, bob] { try await backend.subscribe(owner: owner, maxLengthBytes: nil) }
            let server = try await backend.server()
            let aliceClient = try await backend.client(owner: alice)
            let bobClient = try await backend.client(owner: bob)

            let body = Array(#"{"version":1,"type":"outcome","id":"x","recipient":"jörg@example.test"}"#.utf8) + [0xFF]
            let first = Support.event(owner: alice, body: body)
            let forBob = Support.event(owner: bob)
            let nobody = Support.event(owner: Support.uniqueOwner("events-nobody"))
            let second = Support.event(owner: alice)
            for event in [first, forBob, nobody, second] { try await server.publishEvent(event) }

            var aliceEvents = try await aliceClient.events(owner: alice, prefetch: 10).makeAsyncIterator()
            let received = try await Support.next(&aliceEvents, "alice's first event arrived")
            #expect(received.id == first.id)
            #expect(received.type == "mailfilter.event.v1")
            #expect(received.body == body)
            #expect(!received.redelivered)
            try await aliceClient.acknowledge(received)
            // Bob's event, published in between, did not go to alice.
            let next = try await Support.next(&aliceEvents, "alice's second event arrived")
            #expect(next.id == second.id)
            try await aliceClient.acknowledge(next)

            await Support.expectAccessRefused("alice consuming bob's events queue") {
                () throws(TransportError) in try await aliceClient.events(owner: bob, prefetch: 1)
            }
            var bobEvents = try await bobClient.events(owner: bob, prefetch: 1).makeAsyncIterator()
            #expect(try await Support.next(&bobEvents, "bob's event arrived").id == forBob.id)
            await #expect("alice publishing an event") {
                try await aliceClient.publishEvent(Support.event(owner: bob))
            } throws: { error in
                (error as? TransportError)?.code == .accessRefused
            }

            await aliceClient.shutdown()
            await bobClient.shutdown()
            await server.shutdown()
        }
    }

    /// Shutting a transport down finishes its streams, and later calls throw `closed`.
    static func shutdownFinishesStreams(_ backend: any TransportBackend) async throws {
        try await Support.withTimeLimit {
            let owner = Support.uniqueOwner("shutdown")
            let serverID = Support.uniqueServerID("shutdown")
            try await backend.subscribe(owner: owner, maxLengthBytes: nil)
            let server = try await backend.server()
            let client = try await backend.client(owner: owner)
            var replies = try await server.replies(serverID: serverID).makeAsyncIterator()
            var requests = try await client.requests(owner: owner, prefetch: 1).makeAsyncIterator()

            await client.shutdown()
            await server.shutdown()
            #expect(try await requests.next() == nil)
            #expect(try await replies.next() == nil)

            do throws(TransportError) {
                _ = try await server.publish(Support.request(owner: owner, serverID: serverID))
                Issue.record("publishing after shutdown did not throw")
            } catch {
                #expect(error.code == .closed)
            }
            do throws(TransportError) {
                _ = try await client.requests(owner: owner, prefetch: 1)
                Issue.record("requests after shutdown did not throw")
            } catch {
                #expect(error.code == .closed)
            }
        }
    }
}
