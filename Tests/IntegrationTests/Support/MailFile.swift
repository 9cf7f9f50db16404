import Foundation

/// One stored message: a Maildir file delivered by the test Postfix, or a file
/// written by `smtp-sink`.
struct MailFile: Sendable {
    /// Where the message is stored.
    let url: URL
    /// The whole file as text (invalid UTF-8 replaced).
    let contents: String

    /// Reads the message at `url`.
    /// - Throws: Whatever reading the file throws.
    init(url: URL) throws {
        self.url = url
        contents = String(decoding: try Data(contentsOf: url), as: UTF8.self)
    }

    /// The header section: everything before the first empty line.
    var header: String {
        let normalized = contents.replacingOccurrences(of: "\r\n", with: "\n")
        guard let end = normalized.range(of: "\n\n") else { return normalized }
        return String(normalized[..<end.lowerBound])
    }

    /// The unfolded values of every header field called `name` (case-insensitive), in order.
    /// - Parameter name: The field name, without the colon.
    func headerValues(_ name: String) -> [String] {
        let unfolded = header.replacingOccurrences(of: "\n ", with: " ")
            .replacingOccurrences(of: "\n\t", with: " ")
        return unfolded.split(separator: "\n").compactMap { line in
            guard let colon = line.firstIndex(of: ":"),
                line[..<colon].lowercased() == name.lowercased()
            else { return nil }
            return line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
    }

    /// The first value of header field `name`, if any.
    /// - Parameter name: The field name, without the colon.
    func headerValue(_ name: String) -> String? {
        headerValues(name).first
    }
}

/// The Maildir user of an `example.test` address in the test Postfix: its local part.
/// - Parameter address: The address.
func localPart(_ address: String) -> String {
    String(address.split(separator: "@").first ?? "")
}

/// Lists the regular files directly in `directories`, oldest name first.
/// - Parameter directories: Directories to list; missing ones count as empty.
/// - Throws: Whatever reading a file throws.
func mailFiles(in directories: [URL]) throws -> [MailFile] {
    let fileManager = FileManager.default
    let urls = directories.flatMap { directory in
        ((try? fileManager.contentsOfDirectory(atPath: directory.path)) ?? [])
            .sorted()
            .map { directory.appendingPathComponent($0) }
    }
    return try urls.filter { url in
        var isDirectory: ObjCBool = false
        return fileManager.fileExists(atPath: url.path, isDirectory: &isDirectory) && !isDirectory.boolValue
    }
    .map { try MailFile(url: $0) }
}

/// Polls `read` until it returns at least `count` messages.
/// - Parameters:
///   - count: How many messages to wait for.
///   - timeout: How long to wait.
///   - what: Names the place in the timeout message.
///   - read: Lists the messages there now.
/// - Returns: All messages found (at least `count`).
/// - Throws: `HarnessError.Code.timedOut` with what was found.
func waitForMailFiles(
    count: Int,
    timeout: Duration,
    in what: String,
    _ read: () throws -> [MailFile]
) async throws -> [MailFile] {
    let deadline = ContinuousClock.now + timeout
    while true {
        let files = try read()
        if files.count >= count {
            return files
        }
        guard ContinuousClock.now < deadline else {
            throw HarnessError(
                code: .timedOut,
                message: "\(files.count) of \(count) messages in \(what) after \(timeout)"
            )
        }
        try await Task.sleep(for: .milliseconds(100))
    }
}
