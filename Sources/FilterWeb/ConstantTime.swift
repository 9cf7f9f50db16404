import FilterProcessors

/// Comparisons whose duration does not depend on where the inputs differ.
enum ConstantTime {
    /// Whether the UTF-8 bytes of two strings are equal, in time that depends only on their lengths.
    static func equal(_ left: String, _ right: String) -> Bool {
        Digest.constantTimeEquals(Array(left.utf8), Array(right.utf8))
    }
}
