import Foundation
import Testing

@testable import FilterQueue

@Suite struct ManagementTargetTests {
    @Test func virtualHostComesFromTheAMQPPath() throws {
        let slash = try ManagementTarget(amqpURL: "amqp://admin:pw@broker:5672/%2F", managementURL: nil, password: nil)
        #expect(slash.virtualHost == "/")
        let none = try ManagementTarget(amqpURL: "amqp://admin:pw@broker", managementURL: nil, password: nil)
        #expect(none.virtualHost == "/")
        let named = try ManagementTarget(amqpURL: "amqps://admin:pw@broker/mail%2Dfilter", managementURL: nil, password: nil)
        #expect(named.virtualHost == "mail-filter")
    }

    @Test func managementURLDefaultsToTheAMQPHostAndUser() throws {
        let target = try ManagementTarget(amqpURL: "amqp://admin%40corp:p%40ss@broker.example:5672/%2F", managementURL: nil, password: nil)
        #expect(target.endpoint.url.absoluteString == "http://broker.example:15672")
        #expect(target.endpoint.username == "admin@corp")
        #expect(target.endpoint.password == "p@ss")
    }

    @Test func credentialsLeaveTheURL() throws {
        let target = try ManagementTarget(amqpURL: nil, managementURL: "https://ops:secret@mq.example:15671/rabbitmq/", password: nil)
        #expect(target.endpoint.url.absoluteString == "https://mq.example:15671/rabbitmq")
        #expect(target.endpoint.password == "secret")
        #expect(!target.endpoint.description.contains("secret"))
        #expect(target.virtualHost == "/")
    }

    @Test func passwordPrecedence() throws {
        // The management URL's password wins, then the one from a file or the environment.
        let inURL = try ManagementTarget(amqpURL: nil, managementURL: "http://ops:url@mq:15672", password: "given")
        #expect(inURL.endpoint.password == "url")
        let given = try ManagementTarget(amqpURL: "amqp://ops:amqp@mq", managementURL: "http://ops@mq:15672", password: "given")
        #expect(given.endpoint.password == "given")
        // The AMQP URL's password only goes with the AMQP URL's user.
        let fromAMQP = try ManagementTarget(amqpURL: "amqp://ops:amqp@mq", managementURL: "http://mq:15672", password: nil)
        #expect(fromAMQP.endpoint.password == "amqp")
        #expect(throws: BrokerAdminError.self) {
            try ManagementTarget(amqpURL: "amqp://ops:amqp@mq", managementURL: "http://other@mq:15672", password: nil)
        }
    }

    @Test(arguments: [
        (nil, "http://mq:15672", BrokerAdminError.Code.missingCredentials),
        (nil, "http://ops@mq:15672", .missingCredentials),
        (nil, nil, .invalidURL),
        (nil, "ftp://ops:hunter2@mq", .invalidURL),
        ("http://ops:hunter2@mq", nil, .invalidURL),
    ] as [(String?, String?, BrokerAdminError.Code)])
    func refusals(amqp: String?, management: String?, code: BrokerAdminError.Code) {
        let error = #expect(throws: BrokerAdminError.self) {
            try ManagementTarget(amqpURL: amqp, managementURL: management, password: nil)
        }
        #expect(error?.code == code)
        #expect(error?.description.contains("hunter2") == false)
    }

    @Test func pathSegmentsAreFullyEncoded() {
        #expect(ManagementClient.encodeSegment("/") == "%2F")
        #expect(ManagementClient.encodeSegment("mailfilter.user.x|y+z@example.com") == "mailfilter.user.x%7Cy%2Bz%40example.com")
    }

    @Test func errorDescriptionCarriesStatusAndReason() {
        let error = BrokerAdminError(.httpStatus, "PUT /api/queues/%2F/q failed", status: 400, reason: "inequivalent arg 'durable'")
        #expect(error.description == "http-status: PUT /api/queues/%2F/q failed (HTTP 400: inequivalent arg 'durable')")
    }
}

@Suite(.enabled(if: TestBroker.enabled)) struct ManagementClientTests {
    private func endpoint(password: String) -> ManagementEndpoint {
        ManagementEndpoint(
            url: URL(string: "http://127.0.0.1:\(TestBroker.managementPort)")!, username: TestBroker.adminUser,
            password: password)
    }

    @Test func missingResourceIsNilAndDeletingItIsNoError() async throws {
        let client = ManagementClient(endpoint: endpoint(password: try await TestBroker.start()))
        let name = "mailfilter.test.missing-\(UUID().uuidString)"
        #expect(try await client.get([String: Int].self, ["queues", "/", name]) == nil)
        #expect(try await client.delete(["queues", "/", name]) == false)
    }

    @Test func refusedCredentialsAreA401WithoutThePassword() async throws {
        _ = try await TestBroker.start()
        let client = ManagementClient(endpoint: endpoint(password: "wrong-\(UUID().uuidString)"))
        let error = await #expect(throws: BrokerAdminError.self) {
            try await client.get([String].self, ["users"])
        }
        #expect(error?.code == .httpStatus)
        #expect(error?.status == 401)
        #expect(error?.description.contains("wrong-") == false)
    }

    @Test func brokerReasonIsReported() async throws {
        let client = ManagementClient(endpoint: endpoint(password: try await TestBroker.start()))
        struct Queue: Encodable, Sendable { var durable = true; var arguments = ["x-max-length": "many"] }
        let error = await #expect(throws: BrokerAdminError.self) {
            try await client.put(["queues", "/", "mailfilter.test.bad-\(UUID().uuidString)"], Queue())
        }
        #expect(error?.status == 400)
        #expect(error?.reason?.contains("x-max-length") == true)
    }
}
