import Hummingbird

/// One part of a web listener (the console pages, the send API, `/metrics`): it adds its
/// routes, with their own middleware, to the listener's router.
public protocol WebFeature: Sendable {
    /// Adds this feature's routes to `router`.
    func addRoutes(to router: Router<WebRequestContext>)
}
