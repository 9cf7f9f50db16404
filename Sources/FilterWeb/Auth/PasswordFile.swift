import Foundation

/// A console password file: one `name:HASH` line per account, HASH as ``PasswordHash``
/// (`pbkdf2-sha256$ITERATIONS$SALT_B64$HASH_B64`). Blank lines and lines starting with `#` are
/// ignored; the name is everything before the first `:` (so it may not contain one) and is
/// matched case-insensitively. A name listed twice is an error, so an edit cannot leave an old
/// password working unnoticed.
public struct PasswordFile: Sendable, Hashable {
    /// One account of the file.
    public struct Entry: Sendable, Hashable {
        /// The login name as written in the file.
        public var name: String
        /// Its password hash.
        public var hash: PasswordHash
    }

    /// The accounts, by lowercased name.
    public var entries: [String: Entry]

    /// Parses the text of a password file.
    /// - Parameters:
    ///   - text: The file's contents.
    ///   - path: The file's path, for error messages.
    /// - Throws: ``ConsoleAuthError/Code/malformedFile`` naming the file and line.
    public init(parsing text: String, path: String) throws(ConsoleAuthError) {
        var entries: [String: Entry] = [:]
        for (index, rawLine) in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).enumerated() {
            let line = rawLine.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") { continue }
            let position = "\(path) line \(index + 1)"
            guard let colon = line.firstIndex(of: ":"), colon != line.startIndex else {
                throw ConsoleAuthError(.malformedFile, "\(position): expected name:HASH")
            }
            let name = String(line[..<colon])
            let hash: PasswordHash
            do {
                hash = try PasswordHash(parsing: line[line.index(after: colon)...])
            } catch {
                throw ConsoleAuthError(.malformedFile, "\(position): \(error.message)")
            }
            let key = name.lowercased()
            guard entries[key] == nil else {
                throw ConsoleAuthError(.malformedFile, "\(position): \(name) is listed twice")
            }
            entries[key] = Entry(name: name, hash: hash)
        }
        self.entries = entries
    }

    /// Reads and parses a password file. Blocking file I/O: call it off the event loops.
    /// - Parameter path: The file.
    /// - Throws: ``ConsoleAuthError/Code/unreadableFile`` or ``ConsoleAuthError/Code/malformedFile``.
    public static func load(path: String) throws(ConsoleAuthError) -> PasswordFile {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw ConsoleAuthError(.unreadableFile, "cannot read the password file \(path): \(error.localizedDescription)")
        }
        return try PasswordFile(parsing: text, path: path)
    }

    /// The entry for a login name, matched case-insensitively.
    public func entry(for name: String) -> Entry? {
        entries[name.lowercased()]
    }
}
