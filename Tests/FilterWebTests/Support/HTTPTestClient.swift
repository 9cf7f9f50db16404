import Foundation
import Synchronization

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// What one request answered.
struct HTTPTestResponse: Sendable {
    /// The status code.
    var status: Int
    /// Header fields, names lower-cased.
    var headers: [String: String]
    /// The body.
    var body: Data

    /// The body as UTF-8 text.
    var text: String { String(decoding: body, as: UTF8.self) }
}

/// A small HTTP client for tests against a real listener on loopback: it never follows
/// redirects (tests look at them) and keeps cookies itself, so a test sees and controls exactly
/// what a browser would send.
final class HTTPTestClient: Sendable {
    /// The listener, e.g. `http://127.0.0.1:41234`.
    let base: URL
    private let session: URLSession
    private let jar = Mutex<[String: String]>([:])

    /// A client for the listener at `base`.
    init(base: URL) {
        self.base = base
        let configuration = URLSessionConfiguration.ephemeral
        configuration.httpShouldSetCookies = false
        configuration.httpCookieAcceptPolicy = .never
        configuration.timeoutIntervalForRequest = 60
        session = URLSession(configuration: configuration, delegate: NoRedirects(), delegateQueue: nil)
    }

    /// The cookies the client holds, by name.
    var cookies: [String: String] { jar.withLock { $0 } }

    /// Forgets every cookie.
    func clearCookies() { jar.withLock { $0.removeAll() } }

    /// Sends a request and stores the cookies of the answer.
    /// - Parameters:
    ///   - path: the path and query, e.g. `/messages?q=x`.
    ///   - form: fields sent as `application/x-www-form-urlencoded` (instead of `body`).
    func request(
        _ method: String, _ path: String, headers: [String: String] = [:], body: Data? = nil,
        form: [String: String]? = nil
    ) async throws -> HTTPTestResponse {
        var request = URLRequest(url: URL(string: path, relativeTo: base)!)
        request.httpMethod = method
        for (name, value) in headers { request.setValue(value, forHTTPHeaderField: name) }
        let cookieHeader = jar.withLock { $0.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: "; ") }
        if !cookieHeader.isEmpty, headers["Cookie"] == nil { request.setValue(cookieHeader, forHTTPHeaderField: "Cookie") }
        if let form {
            request.setValue("application/x-www-form-urlencoded", forHTTPHeaderField: "Content-Type")
            request.httpBody = Data(Self.formEncoded(form).utf8)
        } else {
            request.httpBody = body
        }
        let (data, response) = try await session.data(for: request)
        let http = response as! HTTPURLResponse
        var fields: [String: String] = [:]
        for (name, value) in http.allHeaderFields {
            fields[String(describing: name).lowercased()] = String(describing: value)
        }
        if let setCookie = fields["set-cookie"] { storeCookies(setCookie) }
        return HTTPTestResponse(status: http.statusCode, headers: fields, body: data)
    }

    /// `GET path`.
    func get(_ path: String, headers: [String: String] = [:]) async throws -> HTTPTestResponse {
        try await request("GET", path, headers: headers)
    }

    /// `POST path` with form fields.
    func post(_ path: String, form: [String: String], headers: [String: String] = [:]) async throws -> HTTPTestResponse {
        try await request("POST", path, headers: headers, form: form)
    }

    /// Keeps `name=value` of each cookie; a cookie set with `Max-Age=0` or an empty value is dropped.
    private func storeCookies(_ header: String) {
        // Foundation joins repeated Set-Cookie fields with ", ". filterd's cookies carry
        // `Max-Age`, never an `Expires` date with a comma in it, so every comma separates two.
        let pieces = header.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        jar.withLock { jar in
            for cookie in pieces {
                let attributes = cookie.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) }
                guard let pair = attributes.first, let equals = pair.firstIndex(of: "=") else { continue }
                let name = String(pair[..<equals])
                let value = String(pair[pair.index(after: equals)...])
                let expired = attributes.dropFirst().contains { $0.lowercased() == "max-age=0" }
                if value.isEmpty || expired { jar[name] = nil } else { jar[name] = value }
            }
        }
    }

    /// `application/x-www-form-urlencoded` for `fields`, in name order.
    static func formEncoded(_ fields: [String: String]) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._*")
        func encode(_ text: String) -> String {
            text.addingPercentEncoding(withAllowedCharacters: allowed)!.replacingOccurrences(of: "%20", with: "+")
        }
        return fields.sorted { $0.key < $1.key }.map { "\(encode($0.key))=\(encode($0.value))" }.joined(separator: "&")
    }
}

/// Hands redirects back to the caller instead of following them.
private final class NoRedirects: NSObject, URLSessionTaskDelegate, Sendable {
    func urlSession(
        _ session: URLSession, task: URLSessionTask, willPerformHTTPRedirection response: HTTPURLResponse,
        newRequest request: URLRequest, completionHandler: @escaping @Sendable (URLRequest?) -> Void
    ) {
        completionHandler(nil)
    }
}
