import Foundation

/// Starts the `filterd server` executable built with the tests, for the crash-recovery test:
/// the same spool and ports can be started again after the process was killed.
enum CrashFilterd {
    /// The `filterd` executable: `$FILTERD_BINARY`, else the built product.
    static func executablePath() throws -> String {
        try ProcessInfo.processInfo.environment["FILTERD_BINARY"] ?? BuiltProducts.path("filterd")
    }

    /// Starts `filterd server` and waits until it accepts connections.
    /// - Parameters:
    ///   - port: Where it listens on 127.0.0.1.
    ///   - nextHopPort: Where it delivers on 127.0.0.1.
    ///   - spool: The spool directory (created by filterd if missing).
    ///   - configuration: YAML for `--config`.
    /// - Returns: The running process.
    /// - Throws: `HarnessError` with filterd's standard error if it does not listen in time.
    static func start(port: UInt16, nextHopPort: UInt16, spool: URL, configuration: String) async throws -> RunningProcess {
        let configurationFile = spool.deletingLastPathComponent().appendingPathComponent("filterd.yaml")
        try Data(configuration.utf8).write(to: configurationFile)
        let process = try RunningProcess(
            executable: try executablePath(),
            arguments: [
                "server",
                "--listen", "127.0.0.1:\(port)",
                "--next-hop", "127.0.0.1:\(nextHopPort)",
                "--spool", spool.path,
                "--hostname", "filterd.example.test",
                "--config", configurationFile.path,
            ]
        )
        do {
            try await waitUntilListening(port: port)
        } catch {
            let result = await process.stop()
            throw HarnessError(code: .timedOut, message: "\(error)\nfilterd stderr:\n\(result.standardError)")
        }
        return process
    }
}
