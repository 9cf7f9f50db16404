/// The samples of a Prometheus text exposition, by series as written (`name{label="value"}`),
/// for comparing two scrapes: tests of one process share the global metrics, so they look at
/// how much a series moved, never at its absolute value.
struct PrometheusSamples {
    /// Each series' value.
    let values: [String: Double]

    /// Parses the sample lines of `text` (comments and blank lines skipped).
    init(_ text: String) {
        var values: [String: Double] = [:]
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            guard let space = line.lastIndex(of: " "), let value = Double(line[line.index(after: space)...]) else { continue }
            values[String(line[..<space])] = value
        }
        self.values = values
    }

    /// The value of `series`, 0 when it is absent (a counter not incremented yet).
    subscript(_ series: String) -> Double { values[series] ?? 0 }

    /// How much `series` grew since `earlier`.
    func growth(of series: String, since earlier: PrometheusSamples) -> Double {
        self[series] - earlier[series]
    }
}
