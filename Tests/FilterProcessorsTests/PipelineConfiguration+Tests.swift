import FilterCore
import Foundation
import Testing

@testable import FilterProcessors

/// Counts letters of the subject line; registered by a test as a third party would.
private struct Custom: ConfigurableProcessor {
    static let type = "custom"
    static let optionKeys: Set<String> = ["word"]
    struct Options: Decodable { var word: String }
    let name: String
    let word: String
    init(name: String, options: Options) throws(ProcessorConfigurationError) {
        self.name = name
        word = options.word
    }
    func process(_ request: ProcessorRequest, verdict: Verdict) async throws -> ProcessorOutcome {
        var verdict = verdict
        verdict.addTag(word)
        return .continue(verdict)
    }
}

@Suite struct PipelineConfigurationTests {
    func decode(_ json: String, registry: ProcessorRegistry? = nil) throws -> PipelineConfiguration {
        let decoder = JSONDecoder()
        if let registry { decoder.userInfo[.processorRegistry] = registry }
        return try decoder.decode(PipelineConfiguration.self, from: Data(json.utf8))
    }

    func message(of error: any Error) -> String {
        (error as? ProcessorConfigurationError)?.description ?? "\(error)"
    }

    @Test func stepsCarryTheirNameTimeoutAndErrorPolicy() throws {
        let configuration = try decode(#"""
            [{"type": "sender-list", "block": ["@bad.example"]},
             {"type": "sender-list", "name": "vip", "allow": ["@vip.example"], "timeout": 2.5, "on_error": "quarantine"}]
            """#)
        #expect(configuration.steps.map(\.processor.name) == ["sender-list", "vip"])
        #expect(configuration.steps.map(\.timeout) == [.seconds(30), .milliseconds(2500)])
        #expect(configuration.steps.map(\.onError) == [.continue, .decide(.quarantine)])
    }

    @Test func theBuiltPipelineDecides() async throws {
        let pipeline = try decode(#"[{"type": "sender-list", "block": ["@bad.example"]}]"#).makePipeline()
        let result = await pipeline.run(.fixture(from: "x@bad.example"))
        #expect(result.decision.action == .deny)
        #expect(result.decidedBy == "sender-list")
    }

    @Test(arguments: [
        (#"[{"type": "nope"}]"#, "pipeline entry 1: unknown processor type \"nope\"; known: clamav, delay, forward, notify, output, rspamd, rules, sender-list, spamassassin, webhook"),
        (#"[{"block": ["@x.example"]}]"#, "pipeline entry 1: `type` is missing; known types: clamav, delay, forward, notify, output, rspamd, rules, sender-list, spamassassin, webhook"),
        (#"[{"type": "sender-list", "blok": ["@x.example"]}]"#,
         "pipeline entry 1: sender-list: unknown option blok; known: allow, allow_action, block, block_action, name, on_error, timeout, type"),
        (#"[{"type": "sender-list", "block": ["@x.example"]}, {"type": "sender-list", "block": ["user@"]}]"#,
         "pipeline entry 2: sender-list.block: \"user@\" is not an address, @domain, domain, *.domain, .domain, /regex/ or <>"),
        (#"[{"type": "sender-list", "block": ["@x.example"], "timeout": 0}]"#,
         "pipeline entry 1: sender-list.timeout: must be a positive number of seconds"),
        (#"[{"type": "sender-list", "block": ["@x.example"], "on_error": "explode"}]"#,
         "pipeline entry 1: sender-list.on_error: \"explode\" is not an action; use one of pass, deny, spam, virus, forward, quarantine, pending"),
        (#"[{"type": "sender-list", "block": "@x.example"}]"#, "pipeline entry 1: sender-list: `block`: expected a list"),
        (#"[{"type": "sender-list", "block": ["@a.example"]}, {"type": "sender-list", "allow": ["@b.example"]}]"#,
         "pipeline entry 2: the name \"sender-list\" is used twice; give one of them another `name`"),
    ])
    func mistakesAreNamed(json: String, expected: String) {
        #expect(performing: { try decode(json) }, throws: { message(of: $0) == expected })
    }

    @Test func aRegisteredProcessorIsConfigurable() async throws {
        var registry = ProcessorRegistry.builtIn
        registry.register(Custom.self)
        let configuration = try decode(#"[{"type": "custom", "word": "hello"}]"#, registry: registry)
        let result = await configuration.makePipeline().run(.fixture())
        #expect(result.verdict.tags == ["hello"])
        #expect(throws: ProcessorConfigurationError.self) { try decode(#"[{"type": "custom", "word": "x"}]"#) }
    }
}
