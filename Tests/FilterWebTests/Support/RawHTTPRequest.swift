import Foundation
import NIOCore
import NIOPosix

/// One HTTP/1.1 request over a plain NIO connection, for the answers `HTTPTestClient` cannot
/// see: Foundation's URLSession on Linux never completes a request answered 401 with a
/// `WWW-Authenticate: Basic` challenge when it has no credential to offer
/// (swift-corelibs-foundation issue 5456), so the monitor's challenges are read here.
enum RawHTTPRequest {
    /// What came back: the status code, header fields (names lower-cased) and the body.
    struct Answer {
        var status: Int
        var headers: [String: String]
        var body: String
    }

    /// `GET path` on `127.0.0.1:port` with `headers`, reading until the server closes.
    static func get(port: Int, _ path: String, headers: [String: String] = [:]) async throws -> Answer {
        let text = try await exchange(port: port, path: path, headers: headers.merging(["Connection": "close"]) { given, _ in given }) { inbound in
            var text = ""
            for try await chunk in inbound { text += String(buffer: chunk) }
            return text
        }
        let parts = text.components(separatedBy: "\r\n\r\n")
        let lines = parts[0].components(separatedBy: "\r\n")
        let status = lines.first.flatMap { Int($0.split(separator: " ").dropFirst().first ?? "") } ?? 0
        var fields: [String: String] = [:]
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            fields[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        return Answer(status: status, headers: fields, body: parts.dropFirst().joined(separator: "\r\n\r\n"))
    }

    /// Connects to `127.0.0.1:port`, sends `GET path` with `headers`, and hands what the server
    /// sends to `read`; the connection is closed when `read` returns.
    static func exchange<Result: Sendable>(
        port: Int, path: String, headers: [String: String],
        _ read: (NIOAsyncChannelInboundStream<ByteBuffer>) async throws -> Result
    ) async throws -> Result {
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connect(host: "127.0.0.1", port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                }
            }
        return try await channel.executeThenClose { inbound, outbound in
            var request = "GET \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\n"
            for (name, value) in headers { request += "\(name): \(value)\r\n" }
            try await outbound.write(ByteBuffer(string: request + "\r\n"))
            return try await read(inbound)
        }
    }
}
