import Foundation

/// Which complete messages from `LoadGenerator` have arrived in a dump directory of
/// `smtp-sink`, by Message-ID. A file counts only once it holds the generator's end marker
/// (`-- end of <Message-ID>`): a transaction cut off by a killed sender leaves a partial file,
/// which is not an arrival.
struct CrashSinkInventory {
    /// The dump directory.
    let directory: URL
    /// Message-ID of every complete file read so far, by file name.
    private var completeFiles: [String: String] = [:]

    /// Creates an empty inventory of `directory`.
    init(directory: URL) {
        self.directory = directory
    }

    /// How many complete copies of each Message-ID have arrived.
    var copiesByMessageID: [String: Int] {
        completeFiles.values.reduce(into: [:]) { $0[$1, default: 0] += 1 }
    }

    /// Reads the files not yet known to be complete.
    /// - Throws: Whatever listing the directory throws.
    mutating func refresh() throws {
        for name in try FileManager.default.contentsOfDirectory(atPath: directory.path) where completeFiles[name] == nil {
            guard let data = FileManager.default.contents(atPath: directory.appendingPathComponent(name).path) else {
                continue
            }
            if let messageID = Self.completeMessageID(String(decoding: data, as: UTF8.self)) {
                completeFiles[name] = messageID
            }
        }
    }

    /// The Message-ID of a complete message, or `nil` if the end marker is missing.
    private static func completeMessageID(_ contents: String) -> String? {
        guard let headerLine = contents.split(separator: "\n").first(where: { $0.hasPrefix("Message-ID: ") }) else {
            return nil
        }
        let messageID = headerLine.dropFirst("Message-ID: ".count).trimmingCharacters(in: .whitespacesAndNewlines)
        return contents.contains("-- end of \(messageID)") ? messageID : nil
    }
}

extension SMTPSink {
    /// Waits until a complete copy of every Message-ID in `expected` has arrived.
    /// - Parameters:
    ///   - expected: The Message-IDs (as `LoadGenerator` or `Swaks.sendMessage` made them).
    ///   - timeout: How long to wait.
    /// - Returns: The copies of every Message-ID that arrived (also unexpected ones); on a
    ///   timeout the caller sees which are missing.
    /// - Throws: Whatever listing the dump directory throws.
    func waitForMessageIDs(_ expected: Set<String>, timeout: Duration) async throws -> [String: Int] {
        var inventory = CrashSinkInventory(directory: dumpDirectory)
        let deadline = ContinuousClock.now + timeout
        while true {
            try inventory.refresh()
            let copies = inventory.copiesByMessageID
            if expected.isSubset(of: copies.keys) || ContinuousClock.now >= deadline {
                return copies
            }
            try await Task.sleep(for: .milliseconds(200))
        }
    }
}

extension SMTPSink {
    /// Starts smtp-sink on a free port, runs `body`, then stops it (also when `body` throws).
    /// - Parameter body: The test.
    /// - Returns: What `body` returns.
    /// - Throws: What `body` throws.
    static func withRunning<Result>(_ body: (SMTPSink) async throws -> Result) async throws -> Result {
        let sink = try await SMTPSink()
        do {
            let result = try await body(sink)
            await sink.stop()
            return result
        } catch {
            await sink.stop()
            throw error
        }
    }
}
