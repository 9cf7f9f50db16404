import Hummingbird
import Prometheus

/// `GET /metrics`: the registry's metrics in the Prometheus text exposition format 0.0.4.
///
/// Without a token it needs no login: the listeners bind to loopback by default, and the
/// metrics carry counts, never addresses or queue ids. With a token (`metrics_token_file`),
/// a scraper must send `Authorization: Bearer TOKEN`; anything else gets 401.
public struct MetricsFeature: WebFeature {
    /// The content type of the text exposition format.
    public static let contentType = "text/plain; version=0.0.4; charset=utf-8"

    private let registry: PrometheusCollectorRegistry
    private let bearerToken: String?

    /// Serves `registry`.
    /// - Parameters:
    ///   - registry: Usually ``FilterMetricsSystem/bootstrap()``'s.
    ///   - bearerToken: The token a scraper must send; `nil` (the default) for none.
    public init(registry: PrometheusCollectorRegistry, bearerToken: String? = nil) {
        self.registry = registry
        self.bearerToken = bearerToken
    }

    /// Adds `GET /metrics`.
    public func addRoutes(to router: Router<WebRequestContext>) {
        let registry = self.registry
        let token = bearerToken
        router.get("/metrics") { request, _ -> Response in
            if let token, !Self.isAuthorized(request.headers[.authorization], token: token) {
                return Response(
                    status: .unauthorized,
                    headers: [.wwwAuthenticate: "Bearer realm=\"filterd metrics\"", .contentType: "text/plain; charset=utf-8"],
                    body: .init(byteBuffer: ByteBuffer(string: "a bearer token is required\n")))
            }
            var bytes: [UInt8] = []
            bytes.reserveCapacity(16 * 1024)
            registry.emit(into: &bytes)
            return Response(
                status: .ok,
                headers: [.contentType: Self.contentType, .cacheControl: "no-store"],
                body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
        }
    }

    /// Whether `header` is `Bearer TOKEN` with the right token, compared in constant time.
    static func isAuthorized(_ header: String?, token: String) -> Bool {
        guard let header, header.count > 7, header.prefix(7).lowercased() == "bearer " else { return false }
        return ConstantTime.equals(Array(header.utf8.dropFirst(7)), Array(token.utf8))
    }
}

/// Comparisons of secrets whose time does not depend on where they differ.
enum ConstantTime {
    /// Whether `a` equals `b`; the time depends only on the lengths.
    static func equals(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        var difference: UInt8 = a.count == b.count ? 0 : 1
        for index in 0..<max(a.count, b.count) {
            let x = index < a.count ? a[index] : 0
            let y = index < b.count ? b[index] : 0
            difference |= x ^ y
        }
        return difference == 0
    }
}
