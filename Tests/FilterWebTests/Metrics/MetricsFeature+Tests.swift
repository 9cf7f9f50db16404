import FilterWeb
import Metrics
import Testing

/// `GET /metrics`: the Prometheus text format from the process's registry, open or behind a
/// bearer token.
@Suite struct MetricsFeatureTests {
    @Test func servesCountersInThePrometheusTextFormat() async throws {
        let registry = FilterMetricsSystem.bootstrap()
        Counter(label: "filterd_test_probes_total", dimensions: [("kind", "feature")]).increment(by: 3)
        try await withWebServer(features: [MetricsFeature(registry: registry)]) { client in
            let response = try await client.get("/metrics")
            #expect(response.status == 200)
            #expect(response.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8")
            #expect(response.text.contains("# TYPE filterd_test_probes_total counter\n"))
            #expect(PrometheusSamples(response.text)[#"filterd_test_probes_total{kind="feature"}"#] >= 3)
        }
    }

    @Test func bootstrapIsOncePerProcess() {
        #expect(FilterMetricsSystem.bootstrap() === FilterMetricsSystem.bootstrap())
    }

    @Test func aConfiguredTokenIsRequired() async throws {
        let feature = MetricsFeature(registry: FilterMetricsSystem.bootstrap(), bearerToken: "s3cret-token")
        Counter(label: "filterd_test_probes_total", dimensions: [("kind", "token")]).increment()
        try await withWebServer(features: [feature]) { client in
            let missing = try await client.get("/metrics")
            #expect(missing.status == 401)
            #expect(missing.headers["www-authenticate"] == #"Bearer realm="filterd metrics""#)
            #expect(try await client.get("/metrics", headers: ["Authorization": "Bearer s3cret-tokem"]).status == 401)
            #expect(try await client.get("/metrics", headers: ["Authorization": "Bearer s3cret-token-longer"]).status == 401)
            #expect(try await client.get("/metrics", headers: ["Authorization": "Basic czNjcmV0LXRva2Vu"]).status == 401)
            let granted = try await client.get("/metrics", headers: ["Authorization": "Bearer s3cret-token"])
            #expect(granted.status == 200)
            #expect(PrometheusSamples(granted.text)[#"filterd_test_probes_total{kind="token"}"#] >= 1)
        }
    }
}
