import FilterSMTP

/// The part of a reply a test pins down: the code and the enhanced status, not the free text.
struct ExpectedReply: Sendable, Hashable, CustomStringConvertible {
    var code: Int
    var enhancedStatus: EnhancedStatusCode?

    init(_ code: Int, _ enhancedStatus: String? = nil) {
        self.code = code
        self.enhancedStatus = enhancedStatus.map { EnhancedStatusCode($0)! }
    }

    init(_ reply: SMTPReply) {
        self.code = reply.code
        self.enhancedStatus = reply.enhancedStatus
    }

    var description: String { "\(code)\(enhancedStatus.map { " \($0)" } ?? "")" }
}

extension Array where Element == UInt8 {
    /// The UTF-8 bytes of a string literal, for tests that mix text with raw octets.
    init(text: String) {
        self = Array(text.utf8)
    }
}
