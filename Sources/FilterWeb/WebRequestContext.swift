import Hummingbird
import NIOCore

/// Who made a request, once a middleware has authenticated it.
public struct WebIdentity: Sendable, Hashable {
    /// What the identity may see and do.
    public enum Role: String, Sendable, Hashable, Codable {
        /// The operator: every message, every owner, the whole quarantine.
        case admin
        /// A mail user: only the mail of ``WebIdentity/owner``.
        case user
    }

    /// The login name (an admin's name, or the user's address).
    public var name: String
    /// The role.
    public var role: Role
    /// The canonical owner whose mail a ``Role/user`` sees; `nil` for an admin.
    public var owner: String?

    /// Creates an identity.
    public init(name: String, role: Role, owner: String? = nil) {
        self.name = name
        self.role = role
        self.owner = owner
    }
}

/// The request context of every filterd web route: Hummingbird's core storage plus who is
/// asking, set by the authenticating middleware of the route group.
public struct WebRequestContext: RequestContext {
    /// Hummingbird's per-request storage.
    public var coreContext: CoreRequestContextStorage
    /// The authenticated identity; `nil` until a middleware sets it.
    public var identity: WebIdentity?
    /// The CSRF token of the logged-in session, for the hidden `csrf_token` field of every form
    /// (or the `X-CSRF-Token` header of script requests); `nil` without a session.
    public var csrfToken: String?
    /// The client's address (the peer of the connection; a proxy's own when behind one).
    public var remoteAddress: SocketAddress?
    /// Whether the request's session is still live (not logged out, not expired), for
    /// responses that outlast the request, such as an event stream; set with the identity by
    /// the session middleware, `nil` without a session.
    public var sessionIsLive: (@Sendable () -> Bool)?

    /// Creates the context for a new request.
    public init(source: Source) {
        self.coreContext = .init(source: source)
        self.identity = nil
        self.csrfToken = nil
        self.remoteAddress = source.channel.remoteAddress
        self.sessionIsLive = nil
    }
}
