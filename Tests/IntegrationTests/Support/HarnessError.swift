/// Why an integration-test helper failed, worded so a failing CI log explains itself.
struct HarnessError: Error, CustomStringConvertible {
    /// The kind of failure; an open set so helpers can add kinds without breaking callers.
    struct Code: Hashable, Sendable, CustomStringConvertible {
        /// Short name shown in messages.
        let name: String

        /// A helper process exited with a non-zero status.
        static let processFailed = Code(name: "processFailed")
        /// Something the test waited for (a process, a port, a delivery) did not happen in time.
        static let timedOut = Code(name: "timedOut")
        /// A program the tests need is not installed (run scripts/install-deps.sh).
        static let executableNotFound = Code(name: "executableNotFound")
        /// A socket call failed.
        static let socketFailed = Code(name: "socketFailed")

        var description: String { name }
    }

    /// The kind of failure.
    let code: Code
    /// What went wrong, with the command, path or port involved.
    let message: String

    var description: String { "\(code): \(message)" }
}
