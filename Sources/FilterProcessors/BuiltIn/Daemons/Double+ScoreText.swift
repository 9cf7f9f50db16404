import Foundation

extension Double {
    /// The score with one decimal, as SpamAssassin and rspamd write scores: `1000.0`, `-0.1`.
    var scoreText: String {
        String(format: "%.1f", self)
    }
}
