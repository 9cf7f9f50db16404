import FilterCore
import Foundation
import Testing

/// docs/protocol.md is proven by a second implementation: `Examples/python/test_protocol.py`
/// plays the server against the private RabbitMQ node and checks the pika example client,
/// the owners' permissions and the document's regexes and worked examples. The script runs once
/// for the whole suite; each authorization property is its own test over the checks it recorded.
@Suite("PythonExampleClient", .enabled(if: Repository.integrationEnabled))
struct PythonExampleClientTests {
    /// What an owner's broker permissions allow and refuse, as test_protocol.py names them
    /// (`AUTHORIZATION_PROPERTIES` there).
    static let authorizationProperties = [
        "may consume its own queue",
        "may basic.get its own queue",
        "cannot consume another owner's queue",
        "cannot basic.get another owner's queue",
        "cannot declare a queue",
        "cannot bind its queue",
        "cannot publish to mailfilter.requests",
        "cannot publish to the default exchange",
        "cannot publish a reply with another user_id",
    ]

    /// The owners the script checks, by how their generated addresses start: both carry regex
    /// metacharacters, so an unescaped permission regex would let them read other owners' queues.
    static let owners = ["x|y.", "j.smith."]

    @Test("an owner's broker permissions", arguments: authorizationProperties)
    func authorization(property: String) async throws {
        let run = try await ProtocolScriptRun.shared.value
        for owner in Self.owners {
            let checks = run.checks.filter { $0.owner(ifChecking: property)?.hasPrefix(owner) == true }
            #expect(
                !checks.isEmpty,
                "test_protocol.py made no check \"\(property)\" for the owner \(owner)*\n\(run.output)"
            )
            let failed = checks.filter { !$0.passed }
            #expect(failed.isEmpty, "\(property), owner \(owner)*:\n\(failed.map(\.report).joined(separator: "\n"))")
        }
    }

    @Test("every other check passed: round trip, reply properties and schema, redelivery, events, the document's regexes and examples")
    func otherChecksPass() async throws {
        let run = try await ProtocolScriptRun.shared.value
        let others = run.checks.filter { check in
            !Self.authorizationProperties.contains { check.owner(ifChecking: $0) != nil }
        }
        #expect(!others.isEmpty, "test_protocol.py recorded no checks\n\(run.output)")
        let failed = others.filter { !$0.passed }
        #expect(failed.isEmpty, "\(failed.map(\.report).joined(separator: "\n"))\n\(run.output)")
        #expect(
            run.result.succeeded == run.checks.allSatisfy(\.passed),
            "the exit status disagrees with the recorded checks\n\(run.output)"
        )
    }
}

/// One check test_protocol.py made, as its `--results` file records it (one JSON object a line).
private struct ProtocolCheck: Decodable, Sendable {
    let name: String
    let passed: Bool
    let detail: String

    /// The owner whose permissions this check tested, if it is a check of `property`: the script
    /// names those `authorization (OWNER): PROPERTY`, optionally followed by ` (TARGET)`.
    func owner(ifChecking property: String) -> Substring? {
        let prefix = "authorization ("
        guard name.hasPrefix(prefix), let separator = name.range(of: "): ") else { return nil }
        let statement = name[separator.upperBound...]
        guard statement == property || statement.hasPrefix(property + " (") else { return nil }
        return name[name.index(name.startIndex, offsetBy: prefix.count)..<separator.lowerBound]
    }

    /// The check as a line of a failure message.
    var report: String { "\(passed ? "ok" : "FAIL") \(name): \(detail)" }
}

/// The one run of test_protocol.py the suite's tests share (it takes ten seconds and more).
private struct ProtocolScriptRun: Sendable {
    /// How the script exited and what it printed.
    let result: ProcessResult
    /// Every check it recorded, in order.
    let checks: [ProtocolCheck]

    /// Started by the first test that asks, awaited by the others.
    static let shared = Task<ProtocolScriptRun, any Error> { try await run() }

    /// Debian's interpreter, where `python3-pika` and `python3-jsonschema` are installed
    /// (scripts/install-deps.sh); a `python3` earlier in `PATH` (pyenv, a virtualenv) may lack them.
    private static let python =
        FileManager.default.isExecutableFile(atPath: "/usr/bin/python3") ? "/usr/bin/python3" : "python3"

    private static func run() async throws -> ProtocolScriptRun {
        let directory = try Repository.makeTemporaryDirectory(prefix: "protocol-test")
        defer { try? FileManager.default.removeItem(at: directory) }
        let results = directory.appendingPathComponent("results.jsonl")
        let script = Repository.root.appendingPathComponent("Examples/python/test_protocol.py").path
        // The first start of the broker node alone may take a minute and a half.
        let result = try await ProcessRunner.run(Self.python, [script, "--results", results.path], timeout: .seconds(240))
        // No file: the script stopped before its first check; the tests report its output.
        let lines = FileManager.default.contents(atPath: results.path).map { String(decoding: $0, as: UTF8.self) } ?? ""
        let decoder = JSONDecoder()
        let checks = try lines.split(separator: "\n").map { try decoder.decode(ProtocolCheck.self, from: Data($0.utf8)) }
        return ProtocolScriptRun(result: result, checks: checks)
    }

    /// The exit status and output, for failure messages.
    var output: String {
        "test_protocol.py exited with \(result.exitStatus)\nstdout:\n\(result.standardOutput)\nstderr:\n\(result.standardError)"
    }
}

/// The worked examples of docs/protocol.md (which test_protocol.py validates against the JSON
/// Schemas) are read by the Swift wire codec (`WireJSON`) as the document says. Runs without a broker.
@Suite("Protocol document examples")
struct ProtocolDocumentExampleTests {
    private static func example(_ name: String) throws -> Data {
        let document = try String(
            contentsOf: Repository.root.appendingPathComponent("docs/protocol.md"),
            encoding: .utf8
        )
        let marker = "<!-- example: \(name) -->\n```json\n"
        let start = try #require(document.range(of: marker), "docs/protocol.md lacks \(marker)")
        let rest = document[start.upperBound...]
        let end = try #require(rest.range(of: "```"), "unterminated example \(name)")
        return Data(rest[..<end.lowerBound].utf8)
    }

    @Test("the request example decodes as FilterRequestMetadata")
    func requestExampleDecodes() throws {
        let metadata = try FilterRequestMetadata(wireJSON: String(decoding: try Self.example("request-metadata.v1"), as: UTF8.self))
        #expect(metadata.version == 1)
        #expect(metadata.envelope.owner == OwnerResolver().owner(of: metadata.envelope.recipient))
        #expect(metadata.deadline.timeIntervalSince(metadata.received) == 60)
        #expect(metadata.envelope.parameters.notify == ["FAILURE", "DELAY"])
        #expect(metadata.client.protocol == "ESMTP")
        #expect(!metadata.truncated)
    }

    @Test("the reply example decodes as FilterReply")
    func replyExampleDecodes() throws {
        let reply = try FilterReply(wireJSON: Array(try Self.example("reply.v1")))
        #expect(reply.version == 1)
        #expect(reply.action == .spam)
        #expect(reply.score == 7.4)
        #expect(reply.addHeaders == [FilterReply.HeaderField(name: "X-Spam-Report", value: "BAYES_99=3.5, URIBL_BLOCKED=0.0")])
        #expect(reply.processors?.map(\.name) == ["sender-allowlist", "spamassassin"])
    }

    @Test("the event example decodes as OutcomeEvent")
    func eventExampleDecodes() throws {
        let event = try OutcomeEvent(wireJSON: Array(try Self.example("event.v1")))
        #expect(event.version == 1)
        #expect(event.type == OutcomeEvent.outcomeType)
        #expect(event.owner == OwnerResolver().owner(of: event.recipient))
        #expect(event.action == .spam)
        #expect(event.source == .client)
        #expect(event.state == "delivered")
        #expect(abs(event.at.timeIntervalSince1970 - 1_795_684_448.312) < 0.001)
    }
}
