import FilterWeb
import Hummingbird
import Testing

@Suite struct WebServerTests {
    struct Hello: WebFeature {
        func addRoutes(to router: Router<WebRequestContext>) {
            router.get("/hello") { _, _ in "<p>hi</p>" }
        }
    }

    @Test func servesFeatureRoutesWithSecurityHeaders() async throws {
        try await withWebServer(features: [Hello()]) { client in
            let response = try await client.get("/hello")
            #expect(response.status == 200)
            #expect(response.text == "<p>hi</p>")
            #expect(response.headers["x-content-type-options"] == "nosniff")
            #expect(response.headers["x-frame-options"] == "DENY")
            #expect(response.headers["content-security-policy"]?.contains("script-src 'self'") == true)
        }
    }

    @Test func unknownPathIsNotFound() async throws {
        try await withWebServer(features: [Hello()]) { client in
            let response = try await client.get("/nowhere")
            #expect(response.status == 404)
        }
    }
}
