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
