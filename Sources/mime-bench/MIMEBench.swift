import ArgumentParser
import FilterCore
import Foundation

/// The Swift half of `scripts/bench-mime.sh` (docs/performance.md, "MIME view parse rate").
///
/// Reads every `*.eml` file of a corpus directory into memory, makes one untimed pass, then
/// `iterations` timed passes. Each pass builds a ``MIMEMessage`` per message and asks for what
/// a processor would: subject, From, To, the part tree with every part's decoded body and text,
/// the text and HTML bodies and the attachments. Prints one JSON line:
/// `{"messages", "bytes", "iterations", "seconds", "mb_per_s", "messages_per_s"}`
/// (MB = 10^6 bytes).
@main
struct MIMEBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mime-bench",
        abstract: "Parse a corpus of messages with the MIME view and print the rate (a benchmark, not a test)."
    )

    @Argument(help: "A directory of .eml files.")
    var corpus: String

    @Option(help: "Timed passes over the corpus.")
    var iterations = 20

    func run() throws {
        let names = try FileManager.default.contentsOfDirectory(atPath: corpus).filter { $0.hasSuffix(".eml") }.sorted()
        let messages = try names.map { Array(try Data(contentsOf: URL(fileURLWithPath: corpus).appendingPathComponent($0))) }
        guard !messages.isEmpty, iterations >= 1 else {
            throw ValidationError("need at least one .eml file in \(corpus) and one iteration")
        }
        let totalBytes = messages.reduce(0) { $0 + $1.count }
        var checksum = pass(messages)
        let start = ContinuousClock.now
        for _ in 0..<iterations { checksum &+= pass(messages) }
        let elapsed = ContinuousClock.now - start
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        let megabytes = Double(totalBytes * iterations) / 1e6
        let rate = String(format: "%.2f", megabytes / seconds)
        let messageRate = String(format: "%.1f", Double(messages.count * iterations) / seconds)
        print(#"{"messages": \#(messages.count), "bytes": \#(totalBytes), "iterations": \#(iterations), "seconds": \#(String(format: "%.3f", seconds)), "mb_per_s": \#(rate), "messages_per_s": \#(messageRate), "checksum": \#(checksum)}"#)
    }

    /// One pass; returns a checksum of what it read so that no work can be optimized away.
    private func pass(_ messages: [[UInt8]]) -> Int {
        var checksum = 0
        for bytes in messages {
            let message = MIMEMessage(bytes: bytes)
            checksum &+= message.subject?.utf8.count ?? 0
            checksum &+= message.from.count + message.to.count
            for part in message.root.flattened {
                checksum &+= part.decodedSize &+ (part.text?.utf8.count ?? 0)
            }
            checksum &+= (message.textBody?.utf8.count ?? 0) &+ (message.htmlBody?.utf8.count ?? 0)
            checksum &+= message.attachments.count
        }
        return checksum
    }
}
