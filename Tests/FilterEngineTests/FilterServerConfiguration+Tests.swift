import FilterSMTP
import Testing

@testable import FilterEngine

@Suite struct FilterServerConfigurationTests {
    @Test func backoffDoublesUpToTheMaximum() {
        let delivery = FilterServerConfiguration.Delivery(minimumBackoff: 10, maximumBackoff: 300)
        #expect((1...7).map { delivery.backoff(afterAttempts: $0) } == [10, 20, 40, 80, 160, 300, 300])
    }

    @Test func defaultsMatchTheDocumentation() {
        let configuration = FilterServerConfiguration(hostname: "filter.example")
        #expect(configuration.smtp.host == "127.0.0.1")
        #expect(configuration.smtp.port == 10024)
        #expect(configuration.nextHop == .init(host: "127.0.0.1", port: 10025))
        #expect(configuration.spoolDirectory == "/var/spool/filterd")
        #expect(configuration.resolvedControlSocketPath == "/var/spool/filterd/control.sock")
        #expect(configuration.smtp.session.maximumMessageSize >= 10_240_000)
        #expect(configuration.delivery.memoryBytes == 16 * 1024 * 1024)
    }
}
