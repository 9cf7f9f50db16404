import FilterCore
import NIOCore
import Testing

@testable import FilterProcessors

@Suite struct ClamAVTests {
    @discardableResult
    func withClamd<T: Sendable>(unixSocket: Bool = false, answering answer: String, _ body: (FakeDaemon) async throws -> T) async throws -> T {
        try await FakeDaemon.withRunning(unixSocket: unixSocket, answer: { _ in .bytes(Array(answer.utf8)) }, body)
    }

    func processor(_ clamd: FakeDaemon, _ options: ClamAV.Options = .init()) throws -> ClamAV {
        var options = options
        options.address = clamd.address.description
        return try ClamAV(options: options)
    }

    @Test(arguments: [false, true])
    func aSignatureDecidesVirusWithItsName(unixSocket: Bool) async throws {
        try await withClamd(unixSocket: unixSocket, answering: "stream: Eicar-Signature FOUND\0") { clamd in
            let outcome = try await processor(clamd).process(.fixture(message: "Subject: x\n\nEICAR\n"), verdict: Verdict(tags: ["t"]))
            #expect(outcome.decision == Decision(.virus, reason: "Eicar-Signature"))
            #expect(outcome.verdict == Verdict(tags: ["t"]))
            let message = Array("Subject: x\r\n\r\nEICAR\r\n".utf8)
            #expect(clamd.received == [Array("zINSTREAM\0".utf8) + [0, 0, 0, UInt8(message.count)] + message + [0, 0, 0, 0]])
        }
    }

    @Test func cleanMailContinues() async throws {
        try await withClamd(answering: "stream: OK\0") { clamd in
            let outcome = try await processor(clamd).process(.fixture(), verdict: Verdict())
            #expect(outcome == .continue(Verdict()))
        }
    }

    @Test func theActionIsConfigurable() async throws {
        try await withClamd(answering: "stream: Some.Thing FOUND\0") { clamd in
            let outcome = try await processor(clamd, .init(action: "quarantine")).process(.fixture(), verdict: Verdict())
            #expect(outcome.decision == Decision(.quarantine, reason: "Some.Thing"))
        }
    }

    @Test func aMessageOverMaxStreamBytesIsAnErrorWithoutAsking() async throws {
        try await withClamd(answering: "stream: OK\0") { clamd in
            let clamav = try processor(clamd, .init(maxStreamBytes: 10))
            await #expect { try await clamav.process(.fixture(), verdict: Verdict()) } throws: { error in
                (error as? DaemonError)?.code == .messageTooLarge
            }
            let result = await Pipeline(steps: [PipelineStep(clamav, onError: .decide(.quarantine))]).run(.fixture())
            #expect(result.decision.action == .quarantine)
            #expect(clamd.received.isEmpty)
        }
    }

    @Test func clamdsSizeLimitIsTheSameError() async throws {
        try await withClamd(answering: "INSTREAM size limit exceeded. ERROR\0") { clamd in
            await #expect { try await processor(clamd).process(.fixture(), verdict: Verdict()) } throws: { error in
                (error as? DaemonError)?.code == .messageTooLarge
            }
        }
    }

    @Test func aDaemonThatIsDownFailsTheStep() async throws {
        let clamav = try ClamAV(options: .init(address: try await FakeDaemon.closedAddress().description))
        let result = await Pipeline(steps: [PipelineStep(clamav, onError: .decide(.pending))]).run(.fixture())
        #expect(result.decision.action == .pending)
        #expect(result.trace.map(\.outcome) == ["error"])
    }

    @Test func aSlowDaemonRunsIntoTheStepTimeout() async throws {
        try await FakeDaemon.withRunning(answer: { _ in .silence }) { clamd in
            let result = await Pipeline(steps: [PipelineStep(try processor(clamd), timeout: .milliseconds(300), onError: .decide(.quarantine))])
                .run(.fixture())
            #expect(result.trace.map(\.outcome) == ["timeout"])
            #expect(result.decision.action == .quarantine)
        }
    }

    @Test(arguments: ["stream: OK", "stream: OK\0 and more\0", "Hello\0"])
    func malformedAnswersAreErrors(answer: String) async throws {
        try await withClamd(answering: answer) { clamd in
            await #expect { try await processor(clamd).process(.fixture(), verdict: Verdict()) } throws: { error in
                (error as? DaemonError)?.code == .invalidResponse
            }
        }
    }

    @Test func pingAnswersPong() async throws {
        try await withClamd(answering: "PONG\0") { clamd in
            try await ClamdClient(address: clamd.address).ping()
            #expect(clamd.received == [Array("zPING\0".utf8)])
        }
    }

    @Test(arguments: [ClamAV.Options(address: "clamd"), .init(action: "continue"), .init(maxStreamBytes: -1), .init(connectTimeout: -2)])
    func invalidOptionsAreRefused(options: ClamAV.Options) {
        #expect(throws: ProcessorConfigurationError.self) { try ClamAV(options: options) }
    }

    @Test func defaultsAreDebians() throws {
        let clamav = try ClamAV(options: .init())
        #expect(clamav.client.address == .unix(path: "/var/run/clamav/clamd.ctl"))
    }
}
