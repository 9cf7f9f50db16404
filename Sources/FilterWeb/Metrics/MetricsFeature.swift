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
        return ConstantTime.equal(String(header.dropFirst(7)), token)
    }
}
