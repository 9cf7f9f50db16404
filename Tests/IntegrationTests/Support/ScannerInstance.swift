import FilterProcessors
import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A private spamd, clamd or rspamd of `scripts/scanner-instance.sh` on 127.0.0.1, started
/// once per test process on the first `start()` and stopped when the process exits (the
/// script's watcher). Each gets a fresh directory under /tmp; rspamd keeps its compiled
/// rules in `test-artifacts/rspamd-db` so that only the first start ever is slow.
struct ScannerInstance: Sendable {
    /// `spamd`, `clamd` or `rspamd`.
    let daemon: String
    /// Its configuration, log and sockets.
    let directory: URL
    /// Its TCP port on 127.0.0.1.
    let port: Int
    /// How long the first start may take.
    let startTimeout: Duration

    /// spamd, on TCP and on `directory/spamd.sock`.
    static let spamd = ScannerInstance.make("spamd", startTimeout: .seconds(90))
    /// clamd with the one signature `Filterd-Test-EICAR`, on TCP and on `directory/clamd.sock`;
    /// its `StreamMaxLength` is 1 MB.
    static let clamd = ScannerInstance.make("clamd", startTimeout: .seconds(90))
    /// rspamd's normal worker; a cold start compiles its rules first.
    static let rspamd = ScannerInstance.make("rspamd", startTimeout: .seconds(360))

    private static func make(_ daemon: String, startTimeout: Duration) -> ScannerInstance {
        let directory = URL(fileURLWithPath: "/tmp").appendingPathComponent("filterd-\(daemon)-\(getpid())")
        // freePort() throws only when the kernel hands out no socket at all.
        let port = Int((try? freePort()) ?? 0)
        return ScannerInstance(daemon: daemon, directory: directory, port: port, startTimeout: startTimeout)
    }

    /// Its TCP address.
    var address: DaemonAddress { .tcp(host: "127.0.0.1", port: port) }

    /// Its unix socket (spamd and clamd).
    var socketAddress: DaemonAddress { .unix(path: directory.appendingPathComponent("\(daemon).sock").path) }

    /// Start-ups in this test process, by daemon.
    private static let startups = Mutex<[String: Task<Void, any Error>]>([:])

    /// Starts the daemon unless this process did already.
    /// - Throws: `HarnessError` when the script fails (its message names the daemon's log).
    func start() async throws {
        let startup = Self.startups.withLock { startups in
            if let running = startups[daemon] { return running }
            let startup = Task<Void, any Error> {
                try await ProcessRunner.run(
                    Repository.scripts.appendingPathComponent("scanner-instance.sh").path,
                    ["start", daemon, directory.path, String(port)],
                    environment: ["FILTER_SCANNER_STOP_WITH": String(getpid())],
                    timeout: startTimeout
                ).requireSuccess()
            }
            startups[daemon] = startup
            return startup
        }
        do {
            try await startup.value
        } catch {
            _ = Self.startups.withLock { $0.removeValue(forKey: daemon) }
            throw error
        }
    }
}
