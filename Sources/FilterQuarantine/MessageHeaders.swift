import Foundation

/// Reads a message's header section, to show it (`filterctl quarantine show`).
public enum MessageHeaders {
    /// The header section of a message: everything before the first empty line (CRLF or LF
    /// line ends), decoded as UTF-8 with invalid bytes replaced.
    public static func headerSection(of message: some Collection<UInt8>) -> String {
        let text = String(decoding: message, as: UTF8.self)
        let end = text.range(of: "\r\n\r\n") ?? text.range(of: "\n\n")
        return String(end.map { text[..<$0.lowerBound] } ?? Substring(text))
    }
}
