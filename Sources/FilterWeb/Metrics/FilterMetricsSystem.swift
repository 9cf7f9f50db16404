import CoreMetrics
import Prometheus

/// The process's metrics backend: a Prometheus registry behind swift-metrics' global
/// `MetricsSystem`, which the filterd commands bootstrap once at start (docs/metrics.md).
///
/// Libraries (FilterEngine, FilterSMTP, FilterQueue) record through `MetricsSystem`; a program
/// that embeds them and never calls ``bootstrap()`` records into swift-metrics' no-op handlers.
public enum FilterMetricsSystem {
    /// The buckets of `filterd_next_hop_transaction_duration_seconds`, chosen for one SMTP
    /// transaction with a Postfix next hop on the same machine or network: a few milliseconds
    /// when it is idle, hundreds when it is busy or the message is large, seconds when it is
    /// overloaded or reconnecting. 1 ms, 2.5 ms, 5 ms, 10 ms, 25 ms, 50 ms, 100 ms, 250 ms,
    /// 500 ms, 1 s, 2.5 s, 5 s, 10 s, 30 s, 60 s; the last ones show transactions running into
    /// the SMTP client's timeouts.
    public static let nextHopLatencyBuckets: [Duration] = [
        .milliseconds(1), .microseconds(2500), .milliseconds(5), .milliseconds(10), .milliseconds(25),
        .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1),
        .milliseconds(2500), .seconds(5), .seconds(10), .seconds(30), .seconds(60),
    ]

    /// The buckets of `filterd_client_pipeline_duration_seconds`: from a sender list's
    /// microseconds to a content scanner running into its step's 30 s default timeout.
    public static let pipelineDurationBuckets: [Duration] = [
        .milliseconds(1), .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50),
        .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1), .milliseconds(2500),
        .seconds(5), .seconds(10), .seconds(30),
    ]

    /// The registry the process's metrics are kept in, created and bootstrapped on first use.
    private static let shared: PrometheusCollectorRegistry = {
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(factory(registry: registry))
        return registry
    }()

    /// Bootstraps `MetricsSystem` with a Prometheus backend, once per process: later calls
    /// (a test process starting several listeners) return the same registry.
    /// - Returns: The registry that `/metrics` serves (``MetricsFeature``).
    @discardableResult
    public static func bootstrap() -> PrometheusCollectorRegistry {
        shared
    }

    /// A Prometheus factory recording into `registry`, with filterd's histogram buckets.
    public static func factory(registry: PrometheusCollectorRegistry) -> PrometheusMetricsFactory {
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.durationHistogramBuckets = [
            "filterd_next_hop_transaction_duration_seconds": nextHopLatencyBuckets,
            "filterd_client_pipeline_duration_seconds": pipelineDurationBuckets,
        ]
        return factory
    }
}
