import Foundation

/// Durations in nanoseconds with their percentiles.
struct Samples {
    private(set) var values: [Int64] = []

    /// Adds one duration.
    mutating func add(_ nanoseconds: Int64) {
        values.append(nanoseconds)
    }

    /// Adds every duration of `other`.
    mutating func merge(_ other: Samples) {
        values += other.values
    }

    /// How many durations there are.
    var count: Int { values.count }

    /// The `fraction` percentile (nearest rank) in microseconds; 0 without samples.
    func percentile(_ fraction: Double) -> Double {
        guard !values.isEmpty else { return 0 }
        let sorted = values.sorted()
        let rank = max(0, min(sorted.count - 1, Int((fraction * Double(sorted.count)).rounded(.up)) - 1))
        return Double(sorted[rank]) / 1000
    }

    /// The mean in microseconds; 0 without samples.
    var mean: Double {
        values.isEmpty ? 0 : Double(values.reduce(0, +)) / Double(values.count) / 1000
    }
}

/// The CPU time (user + system) this process has used so far, in seconds.
func processCPUSeconds() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    func seconds(_ time: timeval) -> Double { Double(time.tv_sec) + Double(time.tv_usec) / 1e6 }
    return seconds(usage.ru_utime) + seconds(usage.ru_stime)
}
