import Foundation
import Hummingbird

/// Lets only logged-in identities through (``ConsoleAuthentication/requireLogin(role:)``):
/// without one a browser (`Accept: text/html`) is sent to `/login?next=PATH` (303) and any
/// other client gets 401; an identity of another role than `role` gets 403. `role` `nil` admits
/// every logged-in identity.
struct RequireLogin: RouterMiddleware {
    typealias Context = WebRequestContext
    let role: WebIdentity.Role?

    func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        guard let identity = context.identity else {
            if request.headers[.accept]?.lowercased().contains("text/html") == true {
                var allowed = CharacterSet.alphanumerics
                allowed.insert(charactersIn: "-._~/")
                let target = request.uri.description.addingPercentEncoding(withAllowedCharacters: allowed) ?? "/"
                return ConsoleAuthentication.redirect(to: "/login?next=\(target)")
            }
            return Response(
                status: .unauthorized, headers: [.contentType: "text/plain; charset=utf-8", .cacheControl: "no-store"],
                body: .init(byteBuffer: ByteBuffer(string: "login required\n")))
        }
        if let role, identity.role != role {
            return ConsoleAuthentication.errorPage(.forbidden, "This page is not for your account.")
        }
        return try await next(request, context)
    }
}
