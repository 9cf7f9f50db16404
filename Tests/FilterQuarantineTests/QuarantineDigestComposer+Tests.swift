import FilterCore
import Foundation
import Testing

@testable import FilterQuarantine

/// What `Fixtures/parse_digest.py` (Python's `email` package) found in a digest.
struct ParsedDigest: Decodable {
    var headers: [String: String]
    var fromAddress: String
    var toAddress: String
    var dateValid: Bool
    var charset: String?
    var defects: [String]
    var body: String
    var maxLine: Int
    var bareLineEnd: Bool
    var sevenBit: Bool
}

struct PythonParserError: Error, CustomStringConvertible {
    var description: String
}

/// Runs the independent parser on `message`. Fails (never skips) when python3 is missing.
func parseWithPython(_ message: [UInt8]) throws -> ParsedDigest {
    let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Fixtures/parse_digest.py")
    let input = FileManager.default.temporaryDirectory.appendingPathComponent("digest-\(UUID().uuidString).eml")
    try Data(message).write(to: input)
    defer { try? FileManager.default.removeItem(at: input) }
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["python3", script.path, input.path]
    let output = Pipe()
    let errors = Pipe()
    process.standardOutput = output
    process.standardError = errors
    try process.run()
    let data = output.fileHandleForReading.readDataToEndOfFile()
    let errorText = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    guard process.terminationStatus == 0 else {
        throw PythonParserError(description: "parse_digest.py exited \(process.terminationStatus): \(errorText)")
    }
    return try JSONDecoder().decode(ParsedDigest.self, from: data)
}

@Suite struct QuarantineDigestComposerTests {
    let date = Date(timeIntervalSince1970: 1_790_000_000)

    private func entry(id: String, sender: String, action: FilterAction, reason: String) -> QuarantineEntry {
        QuarantineEntry(
            id: id, queueID: "Q1", sender: sender, recipient: "alice@example.test", owner: "alice@example.test",
            action: action, reason: reason, receivedAt: date.addingTimeInterval(-3600),
            quarantinedAt: date.addingTimeInterval(-3590), expiresAt: date.addingTimeInterval(30 * 86400), size: 10,
            envelope: envelope(to: "alice@example.test"))
    }

    @Test func aDigestParsesWithPythonsEmailPackage() throws {
        let composer = QuarantineDigestComposer(hostname: "filter.example.test")
        let items = [
            QuarantineDigestComposer.Item(
                entry: entry(id: "AAA.0", sender: "phish@bad.example", action: .quarantine, reason: "phishing score 12"),
                headerSection: "From: x\r\nSubject: =?UTF-8?B?w4RwZmVs?= und\r\n =?UTF-8?Q?Birnen_=E2=82=AC?="),
            QuarantineDigestComposer.Item(
                entry: entry(id: "BBB.1", sender: "", action: .virus, reason: "Eicar-Test-Signature\r\nInjected: yes"),
                headerSection: "From: y"),
        ]
        let message = composer.compose(recipient: "alice@example.test", items: items, date: date, uniqueID: "u1")
        let parsed = try parseWithPython(message)

        #expect(parsed.defects.isEmpty)
        #expect(parsed.sevenBit)
        #expect(!parsed.bareLineEnd)
        #expect(parsed.maxLine <= 78)
        #expect(parsed.fromAddress == "postmaster@filter.example.test")
        #expect(parsed.toAddress == "alice@example.test")
        #expect(parsed.headers["Subject"] == "Quarantine digest: 2 new messages held for you")
        #expect(parsed.headers["Auto-Submitted"] == "auto-generated")
        #expect(parsed.headers["Message-ID"] == "<quarantine-digest.u1@filter.example.test>")
        #expect(parsed.headers["MIME-Version"] == "1.0")
        #expect(parsed.headers["Content-Transfer-Encoding"] == "quoted-printable")
        #expect(parsed.dateValid)
        #expect(parsed.charset == "utf-8")

        let body = parsed.body
        #expect(body.contains("1. ID:      AAA.0"))
        #expect(body.contains("   From:    <phish@bad.example>"))
        #expect(body.contains("   Subject: Äpfel und Birnen €"))
        #expect(body.contains("   Reason:  quarantine: phishing score 12"))
        #expect(body.contains("   Release with: filterctl quarantine release AAA.0"))
        #expect(body.contains("2. ID:      BBB.1"))
        #expect(body.contains("   From:    <>"))
        #expect(body.contains("   Subject: (none)"))
        #expect(body.contains("   Reason:  virus: Eicar-Test-Signature  Injected: yes"))
        #expect(body.contains("   Release with: filterctl quarantine release BBB.1"))
        #expect(body.contains("   Date:    \(RFC5322Date.format(date.addingTimeInterval(-3600)))"))
        #expect(!body.contains("\nInjected"))
    }

    @Test func theFromAddressIsConfigurableAndOneEntryIsSingular() throws {
        let composer = QuarantineDigestComposer(hostname: "filter.example.test", from: "quarantine@example.test")
        let item = QuarantineDigestComposer.Item(
            entry: entry(id: "ONE.0", sender: "s@example.test", action: .quarantine, reason: "r"), subject: "hi")
        let parsed = try parseWithPython(composer.compose(recipient: "bob@example.test", items: [item], date: date))
        #expect(parsed.fromAddress == "quarantine@example.test")
        #expect(parsed.toAddress == "bob@example.test")
        #expect(parsed.headers["Subject"] == "Quarantine digest: 1 new message held for you")
        #expect(parsed.body.contains("1 message was addressed to <bob@example.test>"))
    }
}
