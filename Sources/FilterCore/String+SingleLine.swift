extension String {
    /// The text with every control character (CR, LF and tab among them) turned into a space:
    /// safe in one line of a header field, a log line or a listing, whatever a message or a
    /// client put into it.
    public var singleLine: String {
        String(String.UnicodeScalarView(unicodeScalars.map { $0.properties.generalCategory == .control ? " " : $0 }))
    }
}
