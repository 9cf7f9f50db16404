import FilterCore
import Foundation
import Testing

/// docs/protocol.md is proven by a second implementation: `Examples/python/test_protocol.py`
/// plays the server against the private RabbitMQ node and checks the pika example client,
/// the owners' permissions and the document's regexes and worked examples.
@Suite("PythonExampleClient", .enabled(if: Repository.integrationEnabled))
struct PythonExampleClientTests {
    /// Debian's interpreter, where `python3-pika` and `python3-jsonschema` are installed
    /// (scripts/install-deps.sh); a `python3` earlier in `PATH` (pyenv, a virtualenv) may lack them.
    private static let python =
        FileManager.default.isExecutableFile(atPath: "/usr/bin/python3") ? "/usr/bin/python3" : "python3"

    @Test("the example client answers as docs/protocol.md says, and the broker confines it to its own queue")
    func protocolTestPasses() async throws {
        let script = Repository.root.appendingPathComponent("Examples/python/test_protocol.py").path
        // The first start of the broker node alone may take a minute and a half.
        let result = try await ProcessRunner.run(Self.python, [script], timeout: .seconds(240))
        #expect(
            result.exitStatus == 0,
            "test_protocol.py failed\nstdout:\n\(result.standardOutput)\nstderr:\n\(result.standardError)"
        )
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
}
