import FilterCore
import Foundation
import Testing

@testable import FilterProcessors

@Suite struct MessageOutputTests {
    /// Runs `body` with a fresh directory path under the temporary directory, removed after.
    func withDirectory(_ body: (String) async throws -> Void) async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("output-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try await body(directory)
    }

    /// Every file under `directory`, relative, sorted, with its inode (to see that nothing was rewritten).
    func listing(_ directory: String) throws -> [String: Int] {
        var files: [String: Int] = [:]
        for path in FileManager.default.subpaths(atPath: directory) ?? [] {
            let attributes = try FileManager.default.attributesOfItem(atPath: directory + "/" + path)
            if attributes[.type] as? FileAttributeType == .typeRegular {
                files[path] = (attributes[.systemFileNumber] as? Int) ?? -1
            }
        }
        return files
    }

    @Test func emlAndJSONAreNamedByTheRequestID() async throws {
        try await withDirectory { directory in
            let output = try MessageOutput(options: .init(directory: directory, formats: ["eml", "json"]))
            let request = ProcessorRequest.fixture(id: "Q7.2", message: "Subject: Hi\n\nbody\n")
            let verdict = Verdict(score: 1.5, tags: ["seen"])
            #expect(try await output.process(request, verdict: verdict) == .continue(verdict))
            #expect(try listing(directory).keys.sorted() == ["Q7.2.eml", "Q7.2.json"])
            #expect(FileManager.default.contents(atPath: directory + "/Q7.2.eml").map(Array.init) == request.rawMessage)
            let json = try #require(FileManager.default.contents(atPath: directory + "/Q7.2.json"))
            let summary = try JSONSerialization.jsonObject(with: json) as? [String: Any]
            #expect(summary?["id"] as? String == "Q7.2")
            #expect(summary?["subject"] as? String == "Hi")
            #expect((summary?["verdict"] as? [String: Any])?["tags"] as? [String] == ["seen"])
            let permissions = try FileManager.default.attributesOfItem(atPath: directory + "/Q7.2.eml")[.posixPermissions] as? Int
            #expect(permissions == 0o600)
        }
    }

    @Test func aSecondRunWritesNothingNew() async throws {
        try await withDirectory { directory in
            let output = try MessageOutput(options: .init(directory: directory, formats: ["eml", "json"]))
            _ = try await output.process(.fixture(id: "Q7.3"), verdict: Verdict())
            let first = try listing(directory)
            _ = try await output.process(.fixture(id: "Q7.3", message: "Subject: changed\n\nother\n"), verdict: Verdict(tags: ["again"]))
            #expect(try listing(directory) == first)
            #expect(FileManager.default.contents(atPath: directory + "/Q7.3.eml").map(Array.init) == ProcessorRequest.fixture().rawMessage)
        }
    }

    @Test func onlyTheDefaultEmlIsWritten() async throws {
        try await withDirectory { directory in
            _ = try await MessageOutput(options: .init(directory: directory)).process(.fixture(id: "Q1.0"), verdict: Verdict())
            #expect(try listing(directory).keys.sorted() == ["Q1.0.eml"])
        }
    }

    @Test func concurrentWritersCreateOneFile() async throws {
        try await withDirectory { directory in
            let output = try MessageOutput(options: .init(directory: directory))
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<8 {
                    group.addTask { _ = try await output.process(.fixture(id: "Q8.0"), verdict: Verdict()) }
                }
                try await group.waitForAll()
            }
            #expect(try listing(directory).keys.sorted() == ["Q8.0.eml"])
        }
    }

    @Test func hostNamesAreEscapedForMaildir() {
        #expect(MessageOutput.maildirHostName("a/b:c") == "a\\057b\\072c")
        #expect(!MessageOutput.localHostName().isEmpty)
    }

    @Test(arguments: [
        ("Q1.0", "Q1.0"), ("a/b", "a%2Fb"), (".hidden", "%2Ehidden"), ("x:y", "x%3Ay"), ("é", "%C3%A9"),
        (String(repeating: "x", count: 201), "sha256-" + Digest.hex(Digest.sha256(Array(String(repeating: "x", count: 201).utf8)))),
    ])
    func requestIDsMakeSafeFileNames(id: String, name: String) {
        #expect(OutputFiles.name(for: id) == name)
    }

    @Test func aMaildirGetsTheMessageInNew() async throws {
        try await withDirectory { directory in
            let output = try MessageOutput(options: .init(directory: directory, formats: ["maildir"]))
            let request = ProcessorRequest.fixture(id: "Q9.0", from: "bob@example.org", message: "Subject: Hi\n\nline one\nline two\n")
            _ = try await output.process(request, verdict: Verdict())
            for subdirectory in ["tmp", "new", "cur"] {
                var isDirectory: ObjCBool = false
                #expect(FileManager.default.fileExists(atPath: directory + "/" + subdirectory, isDirectory: &isDirectory) && isDirectory.boolValue)
            }
            let files = try listing(directory).keys.sorted()
            let host = MessageOutput.maildirHostName(MessageOutput.localHostName())
            #expect(files == ["new/1700000000.RQ9.0.\(host)"])
            let contents = try #require(FileManager.default.contents(atPath: directory + "/" + files[0]))
            #expect(String(decoding: contents, as: UTF8.self)
                == "Return-Path: <bob@example.org>\nDelivered-To: alice@example.com\nSubject: Hi\n\nline one\nline two\n")
        }
    }

    @Test func aMaildirDeliveryIsNotRepeated() async throws {
        try await withDirectory { directory in
            let output = try MessageOutput(options: .init(directory: directory, formats: ["maildir"]))
            _ = try await output.process(.fixture(id: "Q9.1"), verdict: Verdict())
            let first = try listing(directory)
            _ = try await output.process(.fixture(id: "Q9.1"), verdict: Verdict())
            #expect(try listing(directory) == first)
            // A reader moved it to cur/ without flags: still recognized.
            let name = try #require(first.keys.first).replacingOccurrences(of: "new/", with: "")
            try FileManager.default.moveItem(atPath: directory + "/new/" + name, toPath: directory + "/cur/" + name + ":2,")
            _ = try await output.process(.fixture(id: "Q9.1"), verdict: Verdict())
            #expect(try listing(directory).keys.sorted() == ["cur/" + name + ":2,"])
            // Read and flagged (seen, replied): still recognized.
            try FileManager.default.moveItem(atPath: directory + "/cur/" + name + ":2,", toPath: directory + "/cur/" + name + ":2,RS")
            _ = try await output.process(.fixture(id: "Q9.1"), verdict: Verdict())
            #expect(try listing(directory).keys.sorted() == ["cur/" + name + ":2,RS"])
        }
    }

    @Test func aTruncatedMessageIsNotDeliveredIntoAMaildir() async throws {
        try await withDirectory { directory in
            let output = try MessageOutput(options: .init(directory: directory, formats: ["maildir"]))
            let fixture = ProcessorRequest.fixture()
            var metadata = fixture.metadata
            metadata.truncated = true
            await #expect(performing: { try await output.process(ProcessorRequest(metadata: metadata, rawMessage: fixture.rawMessage), verdict: Verdict()) },
                throws: { ($0 as? OutputError)?.code == .truncatedMessage })
            #expect(try listing(directory).isEmpty)
        }
    }

    @Test func anUnwritableDirectoryIsAnError() async throws {
        let output = try MessageOutput(options: .init(directory: "/proc/output-test"))
        await #expect(throws: OutputError.self) { try await output.process(.fixture(), verdict: Verdict()) }
    }

    @Test(arguments: [
        (MessageOutput.Options(directory: "relative/dir"), "output.directory: give an absolute path, not \"relative/dir\""),
        (MessageOutput.Options(directory: "/x", formats: ["mbox"]), "output.formats: \"mbox\" is not one of eml, json, maildir"),
        (MessageOutput.Options(directory: "/x", formats: ["maildir", "json"]), "output.formats: maildir cannot be combined with eml or json in one directory"),
        (MessageOutput.Options(directory: "/x", formats: []), "output.formats: give eml, json or maildir"),
    ])
    func badOptionsAreNamed(options: MessageOutput.Options, expected: String) {
        #expect(performing: { try MessageOutput(options: options) }, throws: { ($0 as? ProcessorConfigurationError)?.description == expected })
    }
}
