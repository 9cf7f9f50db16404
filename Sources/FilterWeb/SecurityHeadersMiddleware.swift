import Hummingbird

/// Adds the headers that keep a browser from reinterpreting filterd's pages: no MIME sniffing,
/// no framing, no referrer to other sites, and a content security policy that allows scripts, styles and
/// connections from the listener itself only (no inline script), so markup that slips through
/// escaping still cannot run.
struct SecurityHeadersMiddleware: RouterMiddleware {
    typealias Context = WebRequestContext

    func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        var response = try await next(request, context)
        response.headers[.xContentTypeOptions] = "nosniff"
        response.headers[.init("X-Frame-Options")!] = "DENY"
        // Not `no-referrer`: under it a browser sends `Origin: null` with a form, which the
        // session's Origin check must refuse. `same-origin` still tells other sites nothing.
        response.headers[.init("Referrer-Policy")!] = "same-origin"
        response.headers[.contentSecurityPolicy] =
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
        return response
    }
}
