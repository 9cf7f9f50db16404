/// Reads a `/metrics` page as an operator's scraper would.
enum MetricsScrape {
    /// `curl -fsS http://127.0.0.1:PORT/metrics`, as an operator runs it.
    static func fetch(port: UInt16) async throws -> String {
        try await ProcessRunner.run("curl", ["-fsS", "http://127.0.0.1:\(port)/metrics"]).requireSuccess().standardOutput
    }

    /// The sum of the samples of `name` whose labels contain every one of `labels`.
    static func sum(_ exposition: String, _ name: String, _ labels: String...) -> Double {
        exposition.split(separator: "\n").reduce(0) { total, line in
            guard line.hasPrefix(name + "{") || line.hasPrefix(name + " "), labels.allSatisfy(line.contains),
                let value = line.split(separator: " ").last.flatMap({ Double($0) })
            else { return total }
            return total + value
        }
    }
}
