import FilterWeb
import Hummingbird

/// Stands in for the login middleware in tests: the identity comes from request headers
/// (`X-Test-Role: admin|user`, `X-Test-User`, `X-Test-Owner`); without `X-Test-Role` there is
/// none. Every identified request gets the CSRF token ``token``.
struct TestIdentity: WebFeature, RouterMiddleware {
    typealias Context = WebRequestContext

    /// The CSRF token every identified request carries.
    static let token = "test-csrf-token"

    func addRoutes(to router: Router<WebRequestContext>) {
        router.add(middleware: self)
    }

    func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        var context = context
        if let role = request.headers[.init("X-Test-Role")!].flatMap(WebIdentity.Role.init(rawValue:)) {
            context.identity = WebIdentity(
                name: request.headers[.init("X-Test-User")!] ?? "tester", role: role, owner: request.headers[.init("X-Test-Owner")!])
            context.csrfToken = Self.token
        }
        return try await next(request, context)
    }

    /// The headers of an admin.
    static let admin = ["X-Test-Role": "admin", "X-Test-User": "root"]

    /// The headers of the user owning `owner`'s mail.
    static func user(_ owner: String) -> [String: String] {
        ["X-Test-Role": "user", "X-Test-User": owner, "X-Test-Owner": owner]
    }
}
