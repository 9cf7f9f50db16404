import Foundation
import Testing

@testable import FilterQueue

@Suite struct AMQPURLTests {
    @Test func parsesEveryPart() throws {
        let url = try AMQPURL("amqp://filter:s3cret@broker.example.net:5673/mail")
        #expect(url.usesTLS == false)
        #expect(url.user == "filter")
        #expect(url.password == "s3cret")
        #expect(url.host == "broker.example.net")
        #expect(url.port == 5673)
        #expect(url.virtualHost == "mail")
    }

    @Test func percentDecodesUserPasswordAndVirtualHost() throws {
        let url = try AMQPURL("amqp://alice%40example.com:p%3Aw%2Fd%40@127.0.0.1/%2F")
        #expect(url.user == "alice@example.com")
        #expect(url.password == "p:w/d@")
        #expect(url.virtualHost == "/")
    }

    @Test(arguments: [
        ("amqp://u:p@host", "/", 5672),
        ("amqp://u:p@host/", "/", 5672),
        ("amqp://u:p@host:1234/%2Fmail", "/mail", 1234),
        ("amqps://u:p@host", "/", 5671),
        ("AMQPS://u:p@host/v", "v", 5671),
    ])
    func defaultsPortAndVirtualHost(text: String, virtualHost: String, port: Int) throws {
        let url = try AMQPURL(text)
        #expect(url.virtualHost == virtualHost)
        #expect(url.port == port)
    }

    @Test func parsesBracketedIPv6() throws {
        let url = try AMQPURL("amqp://u:p@[::1]:15682/")
        #expect(url.host == "::1")
        #expect(url.port == 15682)
        #expect(url.description == "amqp://u:***@[::1]:15682/%2F")
    }

    @Test func takesThePasswordSeparately() throws {
        let url = try AMQPURL("amqp://alice%40example.com@localhost/%2F", password: "from-file")
        #expect(url.password == "from-file")
        let inURL = try AMQPURL("amqp://alice:in-url@localhost/", password: "from-file")
        #expect(inURL.password == "in-url")
        let none = try AMQPURL("amqp://alice@localhost/")
        #expect(none.password == nil)
        #expect(none.description == "amqp://alice@localhost:5672/%2F")
    }

    @Test func defaultsToGuestWithoutUser() throws {
        let url = try AMQPURL("amqp://localhost")
        #expect(url.user == "guest")
        #expect(url.password == "guest")
    }

    @Test func descriptionNeverShowsThePassword() throws {
        let url = try AMQPURL("amqps://alice%40example.com:topsecret@mq.example.net/%2F?cacertfile=/etc/ca.pem")
        #expect(url.description == "amqps://alice%40example.com:***@mq.example.net:5671/%2F")
        #expect(!url.description.contains("topsecret"))
        #expect(!"\(url)".contains("topsecret"))
    }

    @Test func readsTLSAndTuningOptions() throws {
        let url = try AMQPURL(
            "amqps://u:p@mq/?cacertfile=/etc/ssl/ca%20file.pem&certfile=/c.pem&keyfile=/k.pem&verify=verify_peer"
                + "&heartbeat=10&connection_timeout=2500&channel_max=64&frame_max=65536")
        #expect(url.tls.caCertificateFile == "/etc/ssl/ca file.pem")
        #expect(url.tls.certificateFile == "/c.pem")
        #expect(url.tls.keyFile == "/k.pem")
        #expect(url.tls.verifyPeer)
        #expect(url.heartbeatSeconds == 10)
        #expect(url.connectionTimeout == .milliseconds(2500))
        #expect(url.channelMax == 64)
        #expect(url.frameMax == 65536)
        let unverified = try AMQPURL("amqps://u:p@mq/?verify=verify_none")
        #expect(unverified.tls.verifyPeer == false)
    }

    @Test func defaults() throws {
        let url = try AMQPURL("amqps://u:p@mq")
        #expect(url.tls == AMQPURL.TLSOptions())
        #expect(url.tls.verifyPeer)
        #expect(url.heartbeatSeconds == 30)
        #expect(url.connectionTimeout == .seconds(10))
    }

    @Test(arguments: [
        "http://u:p@host/",
        "amqp://u:p@host:0/",
        "amqp://u:p@host:99999/",
        "amqp://u:p@host:abc/",
        "amqp://u:p@host/a/b",
        "amqp://u:p@host/?verify=maybe",
        "amqp://u:p@host/?cacert=/x.pem",
        "amqp://u:p@host/?heartbeat=-1",
        "amqp://u:p@[::1/",
        "amqp://u:p%zz@host/",
    ])
    func rejectsInvalidURLs(text: String) {
        #expect {
            try AMQPURL(text)
        } throws: { error in
            guard let error = error as? TransportError else { return false }
            return error.code == .invalidURL && !error.message.contains("p%zz")
        }
    }

    @Test func readsAPasswordFile() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("amqp-password-\(UUID().uuidString)").path
        try "s3cret\n".write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        #expect(try AMQPURL.readPasswordFile(path) == "s3cret")
        #expect(throws: TransportError.self) { try AMQPURL.readPasswordFile(path + ".missing") }
    }
}
