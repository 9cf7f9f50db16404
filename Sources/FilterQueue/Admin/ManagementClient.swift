import Foundation

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// A small client of the RabbitMQ management HTTP API (`/api/...`), over `URLSession` (libcurl
/// on Linux). Requests are JSON; credentials go in an `Authorization: Basic` header and never
/// into a URL, a message or an error.
///
/// - SeeAlso: RabbitMQ's HTTP API reference (`/api/index.html` on any node with the plugin).
public final class ManagementClient: Sendable {
    /// The API it talks to.
    public let endpoint: ManagementEndpoint
    /// How long one request may take, in seconds (default 30).
    public let timeout: TimeInterval

    private let session: URLSession
    private let authorization: String

    /// Creates a client; nothing is sent until the first request.
    /// - Parameters:
    ///   - endpoint: The API and the credentials.
    ///   - timeout: How long one request may take, in seconds (default 30).
    public init(endpoint: ManagementEndpoint, timeout: TimeInterval = 30) {
        self.endpoint = endpoint
        self.timeout = timeout
        let configuration = URLSessionConfiguration.ephemeral
        configuration.timeoutIntervalForRequest = timeout
        session = URLSession(configuration: configuration, delegate: ChallengeRefuser(), delegateQueue: nil)
        authorization = "Basic " + Data("\(endpoint.username):\(endpoint.password)".utf8).base64EncodedString()
    }

    deinit {
        session.finishTasksAndInvalidate()
    }

    /// Reads a resource.
    /// - Parameters:
    ///   - type: What the JSON answer decodes to.
    ///   - path: The path after `/api/`, one element per segment, not encoded (`["queues", "/", name]`).
    ///   - query: Query parameters (e.g. `columns`).
    /// - Returns: The decoded answer, or `nil` when the resource does not exist (404).
    /// - Throws: ``BrokerAdminError`` for any other failure.
    public func get<Resource: Decodable>(
        _ type: Resource.Type, _ path: [String], query: [URLQueryItem] = []
    ) async throws(BrokerAdminError) -> Resource? {
        guard let body = try await send("GET", path, query: query, body: nil, missingIsNormal: true) else { return nil }
        do {
            return try JSONDecoder().decode(Resource.self, from: body)
        } catch {
            throw BrokerAdminError(.invalidResponse, "GET \(Self.display(path)): unexpected answer: \(error)")
        }
    }

    /// Creates or replaces a resource (`PUT`).
    /// - Parameters:
    ///   - path: The path after `/api/`, one element per segment, not encoded.
    ///   - body: The JSON body.
    /// - Throws: ``BrokerAdminError`` when the broker refuses it or cannot be reached.
    public func put(_ path: [String], _ body: some Encodable & Sendable) async throws(BrokerAdminError) {
        _ = try await send("PUT", path, query: [], body: try Self.encode(body, path), missingIsNormal: false)
    }

    /// Creates a resource (`POST`), as the API does for bindings.
    /// - Parameters:
    ///   - path: The path after `/api/`, one element per segment, not encoded.
    ///   - body: The JSON body.
    /// - Throws: ``BrokerAdminError`` when the broker refuses it or cannot be reached.
    public func post(_ path: [String], _ body: some Encodable & Sendable) async throws(BrokerAdminError) {
        _ = try await send("POST", path, query: [], body: try Self.encode(body, path), missingIsNormal: false)
    }

    /// Deletes a resource.
    /// - Parameter path: The path after `/api/`, one element per segment, not encoded.
    /// - Returns: Whether it existed (a 404 is not an error: deleting is idempotent).
    /// - Throws: ``BrokerAdminError`` for any other failure.
    @discardableResult
    public func delete(_ path: [String]) async throws(BrokerAdminError) -> Bool {
        try await send("DELETE", path, query: [], body: nil, missingIsNormal: true) != nil
    }

    /// Sends one request; returns the body, or `nil` for a 404 when `missingIsNormal`.
    private func send(
        _ method: String, _ path: [String], query: [URLQueryItem], body: Data?, missingIsNormal: Bool
    ) async throws(BrokerAdminError) -> Data? {
        let what = "\(method) \(Self.display(path))"
        var components = URLComponents(url: endpoint.url, resolvingAgainstBaseURL: false)
        let prefix = components?.percentEncodedPath ?? ""
        components?.percentEncodedPath = prefix + Self.display(path)
        components?.queryItems = query.isEmpty ? nil : query
        guard let url = components?.url else {
            throw BrokerAdminError(.invalidURL, "\(what): cannot form a URL under \(endpoint.url.absoluteString)")
        }
        var request = URLRequest(url: url, timeoutInterval: timeout)
        request.httpMethod = method
        request.setValue(authorization, forHTTPHeaderField: "Authorization")
        // No `Accept` header: RabbitMQ 3.10 answers a PUT to /api/user-limits that has one with 406.
        if let body {
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
            request.httpBody = body
        }
        let data: Data
        let response: URLResponse
        do {
            (data, response) = try await session.data(for: request)
        } catch let error as URLError where error.code == .cancelled && !Task.isCancelled {
            // Only ChallengeRefuser cancels: the broker answered 401 to these credentials.
            throw BrokerAdminError(.httpStatus, "\(what) failed" + Self.hint(401, endpoint), status: 401)
        } catch {
            throw BrokerAdminError(
                .connectionFailed,
                "\(what): the management API at \(endpoint.url.absoluteString) cannot be reached: \(error.localizedDescription)"
            )
        }
        guard let status = (response as? HTTPURLResponse)?.statusCode else {
            throw BrokerAdminError(.invalidResponse, "\(what): the answer is not HTTP")
        }
        switch status {
        case 200..<300:
            return data
        case 404 where missingIsNormal:
            return nil
        default:
            let reason = (try? JSONDecoder().decode(ErrorBody.self, from: data))?.reason
            throw BrokerAdminError(.httpStatus, "\(what) failed" + Self.hint(status, endpoint), status: status, reason: reason)
        }
    }

    /// Percent-encodes one path segment: everything but RFC 3986 unreserved characters, so
    /// `/` (the default vhost), `@`, `|` and `+` in names reach RabbitMQ intact.
    static func encodeSegment(_ segment: String) -> String {
        segment.addingPercentEncoding(withAllowedCharacters: unreserved) ?? segment
    }

    private static let unreserved = CharacterSet(
        charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")

    private static func display(_ path: [String]) -> String {
        "/api/" + path.map(encodeSegment).joined(separator: "/")
    }

    private static func hint(_ status: Int, _ endpoint: ManagementEndpoint) -> String {
        switch status {
        case 401: ": the broker refused the credentials of management user \(endpoint.username)"
        case 403: ": management user \(endpoint.username) lacks the administrator tag or permissions"
        default: ""
        }
    }

    private static func encode(_ body: some Encodable, _ path: [String]) throws(BrokerAdminError) -> Data {
        do {
            return try JSONEncoder().encode(body)
        } catch {
            throw BrokerAdminError(.invalidResponse, "cannot encode the body for \(display(path)): \(error)")
        }
    }

    /// RabbitMQ's error answer: `{"error": "...", "reason": "..."}`.
    private struct ErrorBody: Decodable {
        var reason: String?
    }
}

/// Cancels every authentication challenge. The credentials are always sent up front, so a
/// challenge means the broker refused them (401); left to the default handling,
/// swift-corelibs-foundation never completes the request.
private final class ChallengeRefuser: NSObject, URLSessionTaskDelegate, Sendable {
    func urlSession(
        _ session: URLSession,
        task: URLSessionTask,
        didReceive challenge: URLAuthenticationChallenge,
        completionHandler: @escaping @Sendable (URLSession.AuthChallengeDisposition, URLCredential?) -> Void
    ) {
        completionHandler(.cancelAuthenticationChallenge, nil)
    }
}
