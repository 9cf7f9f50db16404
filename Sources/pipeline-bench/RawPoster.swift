import Foundation

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// The webhook baseline: plain `URLSession` POSTs to the same receiver, with the session
/// settings, headers and body size of the `webhook` processor, but no pipeline, no retry
/// logic, no per-attempt timer task and no summary encoding per message.
final class RawPoster: Sendable {
    private let session: URLSession
    private let url: URL

    /// A poster to `url`, each request limited to `timeout` seconds.
    init(url: URL, timeout: Double) {
        let configuration = URLSessionConfiguration.ephemeral
        configuration.timeoutIntervalForRequest = timeout
        configuration.httpCookieAcceptPolicy = .never
        configuration.urlCache = nil
        session = URLSession(configuration: configuration)
        self.url = url
    }

    deinit {
        session.finishTasksAndInvalidate()
    }

    /// Posts `body` once.
    /// - Throws: ``BenchError`` when the transfer fails or the status is not 2xx.
    func post(_ body: [UInt8], idempotencyKey: String) async throws {
        var request = URLRequest(url: url)
        request.httpMethod = "POST"
        request.httpBody = Data(body)
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        request.setValue(idempotencyKey, forHTTPHeaderField: "Idempotency-Key")
        request.setValue("filterd", forHTTPHeaderField: "User-Agent")
        let url = url
        let status: Int = try await withCheckedThrowingContinuation { continuation in
            session.dataTask(with: request) { _, response, error in
                if let error {
                    continuation.resume(throwing: BenchError("POST \(url.absoluteString): \(error.localizedDescription)"))
                } else {
                    continuation.resume(returning: (response as? HTTPURLResponse)?.statusCode ?? 0)
                }
            }.resume()
        }
        guard (200..<300).contains(status) else {
            throw BenchError("POST \(url.absoluteString): the receiver answered \(status)")
        }
    }
}

/// Why the benchmark cannot go on, for the operator.
struct BenchError: Error, CustomStringConvertible {
    /// What went wrong.
    let description: String

    init(_ description: String) { self.description = description }
}
