import Foundation

/// A TCP listener on 127.0.0.1 that accepts connections and never says a word: a next hop
/// that hangs an SMTP client before the greeting. A Python child process, so that nothing in
/// the test process has to serve it.
final class SilentListener: Sendable {
    /// Where it listens.
    let port: UInt16
    private let process: RunningProcess

    private static let script = """
        import socket, sys
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", int(sys.argv[1])))
        listener.listen(16)
        held = []
        while True:
            connection, _ = listener.accept()
            held.append(connection)
            print("accepted", flush=True)
        """

    private init(port: UInt16, process: RunningProcess) {
        self.port = port
        self.process = process
    }

    /// Starts a listener, runs `body`, then stops the listener (also when `body` throws).
    /// - Parameter body: The test.
    /// - Returns: What `body` returns.
    /// - Throws: What `body` throws, or `HarnessError` if the listener does not start.
    static func withRunning<Result>(_ body: (SilentListener) async throws -> Result) async throws -> Result {
        let port = try freePort()
        let process = try RunningProcess(executable: "python3", arguments: ["-c", script, String(port)])
        let listener = SilentListener(port: port, process: process)
        do {
            try await waitUntilListening(port: port)
            let result = try await body(listener)
            _ = await process.stop()
            return result
        } catch {
            _ = await process.stop()
            throw error
        }
    }

    /// Waits until a connection other than `waitUntilListening`'s probe was accepted.
    /// - Parameter timeout: How long to wait.
    /// - Throws: `HarnessError.Code.timedOut`.
    func waitForConnection(timeout: Duration = .seconds(30)) async throws {
        let deadline = ContinuousClock.now + timeout
        while process.standardOutput.split(separator: "\n").count < 2 {
            guard ContinuousClock.now < deadline else {
                throw HarnessError(code: .timedOut, message: "nothing connected to the silent listener in \(timeout)")
            }
            try await Task.sleep(for: .milliseconds(100))
        }
    }
}
