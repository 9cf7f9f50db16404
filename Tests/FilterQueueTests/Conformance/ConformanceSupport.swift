import FilterQueue
import Foundation
import Testing

/// Helpers of the conformance suite that hold for every backend: unique names, requests,
/// bounded waits.
enum ConformanceSupport {
    /// How long any one property may take before it counts as hung. Generous: a real broker on
    /// a loaded machine is slow, and no property waits for it unless something is wrong.
    static let timeLimit: Duration = .seconds(60)

    /// A name no other test (or worktree sharing the broker) uses, for example
    /// `roundtrip.k3x9q2@example.test`. The dot checks that permission regexes escape it.
    static func uniqueOwner(_ purpose: String) -> String {
        "\(purpose).\(randomSuffix())@example.test"
    }

    /// A server id no other test uses.
    static func uniqueServerID(_ purpose: String) -> String {
        "conformance-\(purpose)-\(randomSuffix())"
    }

    /// A request from `serverID` to `owner` with a fresh id.
    static func request(
        owner: String, serverID: String, body: [UInt8] = Array("Subject: test\r\n\r\nhello\r\n".utf8),
        metadata: String = #"{"version":1}"#, expiration: Duration = .seconds(60)
    ) -> OutgoingRequest {
        OutgoingRequest(
            id: UUID().uuidString.lowercased(), owner: owner, serverID: serverID, queueID: "Q" + randomSuffix(),
            metadata: metadata, body: body, expiration: expiration, timestamp: Date())
    }

    /// An outcome event for `owner` with a fresh id.
    static func event(owner: String, body: [UInt8] = Array(#"{"version":1,"type":"outcome"}"#.utf8)) -> OutgoingEvent {
        OutgoingEvent(id: UUID().uuidString.lowercased(), owner: owner, body: body, timestamp: Date())
    }

    /// A reply to `request` with a small JSON body.
    static func reply(to request: DeliveredRequest) throws -> OutgoingReply {
        let id = try #require(request.id)
        let serverID = try #require(request.replyTo)
        return OutgoingReply(id: id, serverID: serverID, body: Array(#"{"version":1,"id":"\#(id)","action":"pass"}"#.utf8))
    }

    /// Runs `body`, failing with ``ConformanceTimeout`` when it takes longer than `limit`.
    /// On time-out `body` is cancelled, which ends the streams it iterates.
    static func withTimeLimit<Result: Sendable>(
        _ limit: Duration = timeLimit, _ body: @escaping @Sendable () async throws -> Result
    ) async throws -> Result {
        try await withThrowingTaskGroup(of: Result.self) { group in
            group.addTask { try await body() }
            group.addTask {
                try await Task.sleep(for: limit)
                throw ConformanceTimeout(limit: limit)
            }
            defer { group.cancelAll() }
            guard let first = try await group.next() else { throw ConformanceTimeout(limit: limit) }
            return first
        }
    }

    /// Waits until `condition` holds, checking every 50 ms, for at most `limit`; a broker may
    /// take a moment to count a consumer that has gone.
    static func eventually(
        within limit: Duration = .seconds(20), _ condition: () async throws -> Bool
    ) async throws -> Bool {
        let deadline = ContinuousClock.now.advanced(by: limit)
        while ContinuousClock.now < deadline {
            if try await condition() { return true }
            try await Task.sleep(for: .milliseconds(50))
        }
        return try await condition()
    }

    /// The next element of a stream, failing the test when the stream ends instead.
    static func next<Element>(
        _ iterator: inout AsyncThrowingStream<Element, any Error>.Iterator, _ what: String,
        sourceLocation: SourceLocation = #_sourceLocation
    ) async throws -> Element {
        try #require(try await iterator.next(), "the stream ended before \(what)", sourceLocation: sourceLocation)
    }

    /// Checks that opening a stream is refused with ``TransportError/Code/accessRefused``,
    /// either at once or as the stream's first event (a backend may learn of it only then).
    static func expectAccessRefused<Element>(
        _ what: String, sourceLocation: SourceLocation = #_sourceLocation,
        _ open: () async throws(TransportError) -> AsyncThrowingStream<Element, any Error>
    ) async {
        let stream: AsyncThrowingStream<Element, any Error>
        do {
            stream = try await open()
        } catch {
            #expect(error.code == .accessRefused, "\(what): \(error)", sourceLocation: sourceLocation)
            return
        }
        var iterator = stream.makeAsyncIterator()
        do {
            _ = try await iterator.next()
            Issue.record("\(what) was not refused", sourceLocation: sourceLocation)
        } catch let error as TransportError {
            #expect(error.code == .accessRefused, "\(what): \(error)", sourceLocation: sourceLocation)
        } catch {
            Issue.record("\(what) failed with \(error), not access-refused", sourceLocation: sourceLocation)
        }
    }

    private static func randomSuffix() -> String {
        String(UInt64.random(in: 0...UInt64.max), radix: 36)
    }
}

/// A conformance property did not finish in time.
struct ConformanceTimeout: Error, CustomStringConvertible {
    /// The limit that passed.
    var limit: Duration
    var description: String { "the property did not finish within \(limit)" }
}
