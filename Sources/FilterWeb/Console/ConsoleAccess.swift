import Hummingbird

/// The console's stand-in for the login middleware: a request without an identity gets 401,
/// a `user` on an admin page 403. The authenticating middleware in front of it sets
/// ``WebRequestContext/identity``.
struct ConsoleAccess: RouterMiddleware {
    typealias Context = WebRequestContext

    /// The role a page needs; `nil` lets every identity in (pages then limit a user to their
    /// own owner).
    let role: WebIdentity.Role?

    func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        guard let identity = context.identity else {
            return HTML.document(
                title: "Login required", body: "<main><h1>Login required</h1><p>Log in to use the console.</p></main>",
                stylesheets: [ConsoleAssets.stylesheetPath], status: .unauthorized)
        }
        if let role, identity.role != role {
            return HTML.document(
                title: "Forbidden", body: "<main><h1>Forbidden</h1><p>This page is for administrators.</p></main>",
                stylesheets: [ConsoleAssets.stylesheetPath], status: .forbidden)
        }
        return try await next(request, context)
    }
}
