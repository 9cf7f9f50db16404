import Foundation
import Testing

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// `filterd server --web` runs the console next to the server: its listener answers, pages need
/// a login, the message log is opened in the spool, and SIGTERM stops both cleanly.
@Suite("filterd web console", .enabled(if: Repository.integrationEnabled))
struct FilterdConsoleTests {
    @Test func theServerRunsTheConsoleWithTheWebFlag() async throws {
        let root = try Repository.makeTemporaryDirectory(prefix: "filterd-console")
        defer { try? FileManager.default.removeItem(at: root) }
        let spool = root.appendingPathComponent("spool").path
        let smtpPort = try freePort()
        let webPort = try freePort()
        let process = try RunningProcess(
            executable: try BuiltProducts.path("filterd"),
            arguments: [
                "server", "--listen", "127.0.0.1:\(smtpPort)", "--next-hop", "127.0.0.1:1", "--spool", spool,
                "--web", "127.0.0.1:\(webPort)",
            ])
        do {
            try await waitUntilListening(port: webPort, timeout: .seconds(30))
            let stylesheet = try await URLSession.shared.data(from: URL(string: "http://127.0.0.1:\(webPort)/static/console.css")!)
            #expect((stylesheet.1 as? HTTPURLResponse)?.statusCode == 200)
            let overview = try await URLSession.shared.data(from: URL(string: "http://127.0.0.1:\(webPort)/")!)
            #expect((overview.1 as? HTTPURLResponse)?.statusCode == 401)
            #expect(FileManager.default.fileExists(atPath: spool + "/messages.sqlite"))
        } catch {
            let result = await process.stop()
            throw HarnessError(code: .processFailed, message: "\(error)\nfilterd stderr:\n\(result.standardError)")
        }
        let result = await process.stop(grace: .seconds(20))
        #expect(result.exitStatus == 0, "\(result.standardError)")
    }
}
