import Synchronization

/// The open `/live` streams, counted per login name and in all: each stream polls the message
/// log every status interval, so nobody may hold open more than the configuration allows.
final class LiveStreamLimiter: Sendable {
    private let open = Mutex<(total: Int, byName: [String: Int])>((0, [:]))
    private let maximum: Int
    private let maximumPerName: Int

    /// A limiter allowing `maximum` streams in all and `maximumPerName` for one login name.
    init(maximum: Int, maximumPerName: Int) {
        self.maximum = maximum
        self.maximumPerName = maximumPerName
    }

    /// Counts a new stream of `name`, or answers `nil` when a limit is reached. The stream
    /// counts until its ticket is closed or released, whichever comes first.
    func admit(_ name: String) -> Ticket? {
        let admitted = open.withLock { open in
            guard open.total < maximum, open.byName[name, default: 0] < maximumPerName else { return false }
            open.total += 1
            open.byName[name, default: 0] += 1
            return true
        }
        return admitted ? Ticket(limiter: self, name: name) : nil
    }

    /// The streams open now (for tests and the overview).
    var openStreams: Int { open.withLock { $0.total } }

    fileprivate func release(_ name: String) {
        open.withLock { open in
            open.total -= 1
            open.byName[name, default: 1] -= 1
            if open.byName[name] == 0 { open.byName[name] = nil }
        }
    }

    /// One admitted stream. Closing it twice, or closing it and then releasing it, counts once.
    final class Ticket: Sendable {
        private let limiter: LiveStreamLimiter
        private let name: String
        private let closed = Mutex(false)

        fileprivate init(limiter: LiveStreamLimiter, name: String) {
            self.limiter = limiter
            self.name = name
        }

        /// The stream has ended.
        func close() {
            let first = closed.withLock { closed in
                defer { closed = true }
                return !closed
            }
            if first { limiter.release(name) }
        }

        deinit { close() }
    }
}
