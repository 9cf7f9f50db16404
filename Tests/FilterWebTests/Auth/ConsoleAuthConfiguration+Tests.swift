import FilterWeb
import Testing

@Suite struct ConsoleAuthConfigurationTests {
    @Test func cookieSecurityAutoDependsOnTheListenerHost() {
        for (host, secure) in [("127.0.0.1", false), ("localhost", false), ("::1", false), ("127.1.2.3", false), ("0.0.0.0", true), ("192.0.2.7", true)] {
            let configuration = ConsoleAuthConfiguration(listener: WebListener(host: host, port: 0))
            #expect(configuration.cookiesAreSecure == secure, "\(host)")
        }
        #expect(ConsoleAuthConfiguration(cookieSecure: .always).cookiesAreSecure)
        #expect(!ConsoleAuthConfiguration(listener: WebListener(host: "0.0.0.0"), cookieSecure: .never).cookiesAreSecure)
        #expect(ConsoleAuthConfiguration.CookieSecurity(rawValue: "sometimes") == nil)
        #expect(ConsoleAuthConfiguration.CookieSecurity(rawValue: "always") == .always)
    }

    @Test func defaultsAreTheDocumentedOnes() {
        let configuration = ConsoleAuthConfiguration()
        #expect(configuration.cookieSecure == .auto)
        #expect(configuration.idleTimeout == .seconds(1800))
        #expect(configuration.absoluteLifetime == .seconds(43_200))
        #expect(configuration.rateLimit.failuresPerAddress == 5)
        #expect(configuration.rateLimit.failuresPerUser == 5)
        #expect(configuration.rateLimit.window == .seconds(300))
        #expect(configuration.adminPasswordFile == nil && configuration.userPasswordFile == nil && configuration.brokerLogin == nil)
    }
}
