import Foundation

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// A client of rspamd's normal worker (`POST /checkv2`) over `URLSession` (libcurl on Linux).
public final class RspamdClient: Sendable {
    /// The worker's base URL, for example `http://127.0.0.1:11333`.
    public let url: URL
    /// How long connecting and each wait for data may take, in seconds; default 30.
    public let timeout: TimeInterval
    private let password: String?
    private let session: URLSession

    /// Creates a client; nothing is sent until the first check.
    /// - Parameters:
    ///   - url: The worker's base URL; `/checkv2` is appended.
    ///   - password: Sent as `Password` when given; never logged.
    ///   - timeout: How long connecting and each wait for data may take, in seconds; default 30.
    public init(url: URL, password: String? = nil, timeout: TimeInterval = 30) {
        self.url = url
        self.password = password
        self.timeout = timeout
        let configuration = URLSessionConfiguration.ephemeral
        configuration.timeoutIntervalForRequest = timeout
        session = URLSession(configuration: configuration)
    }

    deinit {
        session.finishTasksAndInvalidate()
    }

    /// Checks `message`.
    /// - Parameters:
    ///   - message: The raw message.
    ///   - envelope: The envelope and client, sent as headers.
    /// - Returns: rspamd's verdict.
    /// - Throws: ``DaemonError``, or `CancellationError`.
    public func check(_ message: [UInt8], envelope: RspamdEnvelope) async throws -> RspamdResult {
        var request = URLRequest(url: url.appendingPathComponent("checkv2"), timeoutInterval: timeout)
        request.httpMethod = "POST"
        for header in RspamdProtocol.headers(envelope, password: password) {
            request.addValue(header.value, forHTTPHeaderField: header.name)
        }
        request.httpBody = Data(message)
        let data: Data
        let response: URLResponse
        do {
            (data, response) = try await session.data(for: request)
        } catch {
            try Task.checkCancellation()
            if let error = error as? URLError, error.code == .timedOut {
                throw DaemonError(.timedOut, "rspamd at \(url.absoluteString) did not answer within \(timeout) s")
            }
            throw DaemonError(.connectionFailed, "rspamd at \(url.absoluteString) cannot be reached: \(error.localizedDescription)")
        }
        let status = (response as? HTTPURLResponse)?.statusCode ?? 0
        // rspamd answers its errors as JSON too (`{"error": ...}`), which the parser reports.
        guard status == 200 || data.first == UInt8(ascii: "{") else {
            throw DaemonError(.daemonFailed, "rspamd at \(url.absoluteString) answered HTTP \(status)")
        }
        return try RspamdProtocol.parseResult(data)
    }
}
