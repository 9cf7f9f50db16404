import FilterCore
import Foundation
import Synchronization

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// How a processor that posts to HTTP receivers (`webhook`, `notify`) posts: the option keys
/// `request_timeout`, `retries`, `retry_delay`, `secret` and `secret_file`, read from the same
/// pipeline entry as the processor's own options.
public struct WebhookDeliveryOptions: Decodable, Sendable {
    /// Seconds one attempt may take, from connecting to the last byte of the answer; default 8
    /// (three attempts and their delays fit in a step's default 30 s).
    public var requestTimeout: Double?
    /// Attempts after the first, on connection errors, timeouts, 5xx and 429; default 2.
    public var retries: Int?
    /// Seconds before the first retry, doubled before each further one; default 1.
    public var retryDelay: Double?
    /// The HMAC-SHA256 key for `X-Mailfilter-Signature`, as text.
    public var secret: String?
    /// A file holding the key (one trailing line end is ignored); instead of `secret`.
    public var secretFile: String?

    /// The keys these options are read from.
    static let keys: Set<String> = ["request_timeout", "retries", "retry_delay", "secret", "secret_file"]

    enum CodingKeys: String, CodingKey {
        case requestTimeout = "request_timeout", retries, retryDelay = "retry_delay", secret, secretFile = "secret_file"
    }

    /// Creates options; every option absent (defaults) unless given.
    public init(requestTimeout: Double? = nil, retries: Int? = nil, retryDelay: Double? = nil, secret: String? = nil, secretFile: String? = nil) {
        self.requestTimeout = requestTimeout
        self.retries = retries
        self.retryDelay = retryDelay
        self.secret = secret
        self.secretFile = secretFile
    }
}

/// What a receiver answered with a 2xx status.
struct WebhookResponse: Sendable, Hashable {
    /// The HTTP status.
    var status: Int
    /// The body.
    var body: [UInt8]
}

/// Posts bodies to HTTP receivers over `URLSession` (libcurl on Linux): one attempt at a time
/// under `request_timeout`, retried with doubling delays on what may heal (connection errors,
/// timeouts, 5xx, 429) and never on other statuses, each attempt carrying the same
/// `Idempotency-Key` and, with a secret, the signature `X-Mailfilter-Signature: sha256=<hex>`:
/// the HMAC-SHA256 of the exact body bytes. Cancelling the calling task cancels the transfer.
final class WebhookSender: Sendable {
    /// How long one attempt may take.
    let requestTimeout: Duration
    /// Attempts after the first.
    let retries: Int
    /// The delay before the first retry.
    let retryDelay: Duration
    private let secret: [UInt8]?
    private let session: URLSession

    /// The header carrying the body's signature.
    static let signatureHeader = "X-Mailfilter-Signature"
    /// The header carrying the request id.
    static let idempotencyHeader = "Idempotency-Key"

    /// Builds a sender from `options`, reading `secret_file` now.
    /// - Parameter key: the processor's name, for messages.
    /// - Throws: ``ProcessorConfigurationError`` naming the bad option.
    init(options: WebhookDeliveryOptions, key: String) throws(ProcessorConfigurationError) {
        let timeout = options.requestTimeout ?? 8
        guard timeout > 0, timeout.isFinite else {
            throw ProcessorConfigurationError("\(key).request_timeout: must be a positive number of seconds")
        }
        let retries = options.retries ?? 2
        guard (0...10).contains(retries) else {
            throw ProcessorConfigurationError("\(key).retries: must be between 0 and 10")
        }
        let delay = options.retryDelay ?? 1
        guard delay >= 0, delay.isFinite else {
            throw ProcessorConfigurationError("\(key).retry_delay: must be zero or a positive number of seconds")
        }
        requestTimeout = .milliseconds(Int64(timeout * 1000))
        self.retries = retries
        retryDelay = .milliseconds(Int64(delay * 1000))
        secret = try Self.secret(options, key: key)
        let configuration = URLSessionConfiguration.ephemeral
        configuration.timeoutIntervalForRequest = timeout
        configuration.httpCookieAcceptPolicy = .never
        configuration.urlCache = nil
        session = URLSession(configuration: configuration)
    }

    deinit {
        session.finishTasksAndInvalidate()
    }

    private static func secret(_ options: WebhookDeliveryOptions, key: String) throws(ProcessorConfigurationError) -> [UInt8]? {
        switch (options.secret, options.secretFile) {
        case (nil, nil):
            return nil
        case (.some, .some):
            throw ProcessorConfigurationError("\(key): give `secret` or `secret_file`, not both")
        case (let text?, nil):
            guard !text.isEmpty else { throw ProcessorConfigurationError("\(key).secret: must not be empty") }
            return Array(text.utf8)
        case (nil, let path?):
            guard let data = FileManager.default.contents(atPath: path) else {
                throw ProcessorConfigurationError("\(key).secret_file: cannot read \(path)")
            }
            var bytes = Array(data)
            if bytes.last == UInt8(ascii: "\n") { bytes.removeLast() }
            if bytes.last == UInt8(ascii: "\r") { bytes.removeLast() }
            guard !bytes.isEmpty else { throw ProcessorConfigurationError("\(key).secret_file: \(path) is empty") }
            return bytes
        }
    }

    /// The value of `X-Mailfilter-Signature` for `body`, `nil` without a secret.
    func signature(of body: [UInt8]) -> String? {
        secret.map { "sha256=" + Digest.hex(Digest.hmacSHA256(body, key: $0)) }
    }

    /// Posts `body` to `url`, retrying as configured.
    /// - Parameters:
    ///   - contentType: the body's media type.
    ///   - idempotencyKey: the request id, sent as `Idempotency-Key` with every attempt.
    /// - Returns: the first 2xx answer.
    /// - Throws: ``WebhookError`` of the last attempt, or ``WebhookError/Code/cancelled``.
    func post(_ body: [UInt8], contentType: String, to url: URL, idempotencyKey: String) async throws(WebhookError) -> WebhookResponse {
        var request = URLRequest(url: url, timeoutInterval: requestTimeout.timeInterval)
        request.httpMethod = "POST"
        request.httpBody = Data(body)
        request.setValue(contentType, forHTTPHeaderField: "Content-Type")
        request.setValue(idempotencyKey, forHTTPHeaderField: Self.idempotencyHeader)
        request.setValue("filterd", forHTTPHeaderField: "User-Agent")
        if let signature = signature(of: body) {
            request.setValue(signature, forHTTPHeaderField: Self.signatureHeader)
        }
        var delay = retryDelay
        var attempt = 1
        while true {
            do throws(WebhookError) {
                return try await exchange(request)
            } catch where error.isRetryable && attempt <= retries {
                do {
                    try await Task.sleep(for: delay)
                } catch {
                    throw WebhookError(.cancelled, "POST \(url.absoluteString): cancelled while waiting to retry")
                }
                delay *= 2
                attempt += 1
            } catch {
                guard attempt > 1 else { throw error }
                throw WebhookError(error.code, "\(error.message) (attempt \(attempt) of \(retries + 1))", status: error.status)
            }
        }
    }

    /// One attempt, ended after `requestTimeout` whatever libcurl's own timers do (they restart
    /// on every byte, so a receiver that trickles could hold an attempt for ever).
    private func exchange(_ request: URLRequest) async throws(WebhookError) -> WebhookResponse {
        let what = "POST \(request.url?.absoluteString ?? "?")"
        let limit = requestTimeout
        let outcome = await withTaskGroup(of: Result<WebhookResponse, WebhookError>?.self) { group in
            group.addTask { await self.load(request, what: what) }
            group.addTask {
                try? await Task.sleep(for: limit)
                return nil
            }
            let first = await group.next() ?? nil
            group.cancelAll()
            return first
        }
        if Task.isCancelled {
            throw WebhookError(.cancelled, "\(what): cancelled")
        }
        guard let outcome else {
            throw WebhookError(.timedOut, "\(what): no answer within \(limit.timeInterval) s")
        }
        return try outcome.get()
    }

    /// Sends `request` and classifies what came back.
    private func load(_ request: URLRequest, what: String) async -> Result<WebhookResponse, WebhookError> {
        let data: Data
        let response: URLResponse
        do {
            (data, response) = try await transfer(request)
        } catch let error as URLError where error.code == .cancelled {
            return .failure(WebhookError(.cancelled, "\(what): cancelled"))
        } catch let error as URLError where error.code == .timedOut {
            return .failure(WebhookError(.timedOut, "\(what): no answer within \(requestTimeout.timeInterval) s"))
        } catch {
            return .failure(WebhookError(.connectionFailed, "\(what): the receiver cannot be reached: \(error.localizedDescription)"))
        }
        guard let status = (response as? HTTPURLResponse)?.statusCode else {
            return .failure(WebhookError(.invalidResponse, "\(what): the answer is not HTTP"))
        }
        guard (200..<300).contains(status) else {
            return .failure(WebhookError(.httpStatus, "\(what): the receiver answered \(status)", status: status))
        }
        return .success(WebhookResponse(status: status, body: Array(data)))
    }

    /// A data task whose transfer is cancelled when the calling task is.
    private func transfer(_ request: URLRequest) async throws -> (Data, URLResponse) {
        let running = Mutex<URLSessionDataTask?>(nil)
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                let task = session.dataTask(with: request) { data, response, error in
                    if let error {
                        continuation.resume(throwing: error)
                    } else if let data, let response {
                        continuation.resume(returning: (data, response))
                    } else {
                        continuation.resume(throwing: URLError(.badServerResponse))
                    }
                }
                running.withLock { $0 = task }
                task.resume()
                if Task.isCancelled { task.cancel() }
            }
        } onCancel: {
            running.withLock { $0?.cancel() }
        }
    }
}
