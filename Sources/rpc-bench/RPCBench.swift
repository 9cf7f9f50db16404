import ArgumentParser
import FilterQueue
import FilterCore
import Foundation
import Logging

/// Baseline 2 of `scripts/bench-rpc.sh`: the bare RPC round trip through RabbitMQ, with no
/// spool, no SMTP and no filter (docs/performance.md, "RabbitMQ RPC").
///
/// One server transport (logged in as the server's broker user) publishes requests as
/// `filterd server` does — persistent, `mandatory`, with publisher confirms, through
/// ``RabbitMQTransport`` — `concurrency` at a time, round robin over the owners; one client
/// transport per owner (logged in as that owner) consumes its queue with `prefetch` and replies
/// as `filterd client` does (persistent, `mandatory`, confirmed, then the request is
/// acknowledged); the server consumes its reply queue and acknowledges each reply. A round
/// trip is timed from just before the publish to the reply's arrival at the server.
/// Prints one JSON line: `{"count", "seconds", "rate", "p50_ms", "p99_ms"}`.
@main
struct RPCBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rpc-bench",
        abstract: "Bare RPC round trips through RabbitMQ with the transport filterd uses (a benchmark baseline)."
    )

    @Option(help: "The broker, HOST:PORT.")
    var broker = "127.0.0.1:5672"

    @Option(help: "A file holding the password of every broker user named here.")
    var passwordFile: String

    @Option(help: "The server's broker user.")
    var serverUser: String

    @Option(help: "The server id: replies arrive on mailfilter.server.ID.")
    var serverId: String

    @Option(help: "The owners, comma-separated: each has a queue, a broker user and one client here.")
    var owners: String

    @Option(help: "Round trips to time.")
    var count = 5000

    @Option(help: "Round trips to make before timing starts.")
    var warmup = 200

    @Option(help: "Requests in flight at once (filterd's delivery concurrency is 20).")
    var concurrency = 20

    @Option(help: "Each client's prefetch.")
    var prefetch = 20

    @Option(help: "Request body size, in bytes.")
    var size = 4096

    func run() async throws {
        var logger = Logger(label: "rpc-bench")
        logger.logLevel = .warning
        let password = try AMQPURL.readPasswordFile(passwordFile)
        let ownerList = owners.split(separator: ",").map(String.init)
        guard !ownerList.isEmpty, concurrency >= 1, prefetch >= 1, count >= 1 else {
            throw ValidationError("--owners, --concurrency, --prefetch and --count must not be empty or zero")
        }
        let server = RabbitMQTransport(url: try url(user: serverUser, password: password), logger: logger)
        try await server.connect()
        var clients: [(owner: String, transport: RabbitMQTransport)] = []
        for owner in ownerList {
            let client = RabbitMQTransport(url: try url(user: owner, password: password), logger: logger)
            try await client.connect()
            clients.append((owner, client))
        }
        let waiter = ReplyWaiter()
        let replies = try await server.replies(serverID: serverId)
        let load = Load(
            server: server, waiter: waiter, owners: ownerList, serverID: serverId,
            body: [UInt8](repeating: UInt8(ascii: "x"), count: size), concurrency: concurrency)
        let result = try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                for try await reply in replies {
                    await waiter.arrived(reply.correlationID ?? "")
                    try await server.acknowledge(reply)
                }
            }
            for (owner, client) in clients {
                let requests = try await client.requests(owner: owner, prefetch: prefetch)
                group.addTask { try await Self.answer(requests, with: client) }
            }
            _ = try await load.run(count: warmup, prefix: "warmup")
            let result = try await load.run(count: count, prefix: "timed")
            await server.shutdown()
            for (_, client) in clients { await client.shutdown() }
            group.cancelAll()
            return result
        }
        print(result.json)
    }

    private func url(user: String, password: String) throws -> AMQPURL {
        let encoded = user.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "-._~"))) ?? user
        return try AMQPURL("amqp://\(encoded)@\(broker)/%2F", password: password)
    }

    /// Replies to every request at once, the way `filterd client` does (minus the pipeline).
    private static func answer(_ requests: AsyncThrowingStream<DeliveredRequest, any Error>, with client: RabbitMQTransport) async throws {
        try await withThrowingDiscardingTaskGroup { group in
            for try await request in requests {
                guard let id = request.id, let serverID = request.replyTo else { continue }
                group.addTask {
                    let body = Array(#"{"version":1,"id":"\#(id)","action":"pass"}"#.utf8)
                    try await client.reply(OutgoingReply(id: id, serverID: serverID, body: body), to: request)
                }
            }
        }
    }
}

/// The publishing side: `concurrency` loops, each publishing a request and awaiting its reply.
struct Load: Sendable {
    let server: RabbitMQTransport
    let waiter: ReplyWaiter
    let owners: [String]
    let serverID: String
    let body: [UInt8]
    let concurrency: Int

    /// Makes `count` round trips and times them.
    func run(count: Int, prefix: String) async throws -> Result {
        guard count > 0 else { return Result(count: 0, seconds: 0, latencies: []) }
        let clock = ContinuousClock()
        let started = clock.now
        let latencies = try await withThrowingTaskGroup(of: [Duration].self) { group in
            for lane in 0..<min(concurrency, count) {
                group.addTask {
                    var latencies: [Duration] = []
                    for index in stride(from: lane, to: count, by: concurrency) {
                        latencies.append(try await roundTrip(id: "\(prefix).\(index)", owner: owners[index % owners.count]))
                    }
                    return latencies
                }
            }
            return try await group.reduce(into: []) { $0 += $1 }
        }
        return Result(count: count, seconds: (clock.now - started).timeInterval, latencies: latencies)
    }

    private func roundTrip(id: String, owner: String) async throws -> Duration {
        let clock = ContinuousClock()
        let started = clock.now
        let metadata = #"{"version":1,"id":"\#(id)","queueId":"bench","owner":"\#(owner)"}"#
        let request = OutgoingRequest(
            id: id, owner: owner, serverID: serverID, queueID: "bench", metadata: metadata, body: body,
            expiration: .seconds(60), timestamp: Date())
        let outcome = try await server.publish(request)
        guard outcome == .accepted else {
            throw ValidationError("the broker did not accept request \(id): \(outcome)")
        }
        await waiter.wait(for: id)
        return clock.now - started
    }

    /// Rate and latency percentiles of one run.
    struct Result {
        var count: Int
        var seconds: Double
        var latencies: [Duration]

        var json: String {
            let sorted = latencies.map(\.timeInterval).sorted()
            func percentile(_ p: Double) -> Double {
                sorted.isEmpty ? 0 : sorted[min(sorted.count - 1, Int((Double(sorted.count) * p).rounded(.up)) - 1)] * 1000
            }
            let rate = seconds > 0 ? Double(count) / seconds : 0
            return String(
                format: #"{"count": %d, "seconds": %.3f, "rate": %.1f, "p50_ms": %.2f, "p99_ms": %.2f}"#,
                count, seconds, rate, percentile(0.50), percentile(0.99))
        }
    }
}

/// Matches replies to the round trips waiting for them; a reply may arrive before its waiter.
actor ReplyWaiter {
    private var waiting: [String: CheckedContinuation<Void, Never>] = [:]
    private var early: Set<String> = []

    func wait(for id: String) async {
        if early.remove(id) != nil { return }
        await withCheckedContinuation { waiting[id] = $0 }
    }

    func arrived(_ id: String) {
        if let continuation = waiting.removeValue(forKey: id) {
            continuation.resume()
        } else {
            early.insert(id)
        }
    }
}
