import Foundation

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// A local HTTP receiver for webhook tests: Python's `http.server` on 127.0.0.1 and a port the
/// kernel picks. It records every POST (path, headers, body) and checks the signature with
/// Python's own `hmac`, independently of the code under test. Query parameters shape its
/// answer: `fail=500x2` answers 500 to the first two POSTs to that path, `delay=5` waits five
/// seconds first, `answer=...` is the body of a 200 (default `{}`).
final class WebhookReceiver: Sendable {
    /// One POST as the receiver saw it.
    struct Received: Decodable {
        var path: String
        var attempt: Int
        var idempotencyKey: String?
        var contentType: String?
        var signature: String?
        /// Whether the signature is the HMAC-SHA256 of the body under the receiver's secret.
        var signatureValid: Bool
        var body: String

        /// The body's bytes.
        var bytes: [UInt8] { Array(Data(base64Encoded: body) ?? Data()) }
    }

    private static let script = #"""
        import base64, hashlib, hmac, json, os, signal, sys, threading, time, urllib.parse
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        # The test runner's signal mask is inherited: unblock SIGTERM, and end when the test's
        # end of the stdin pipe closes, even if the test process dies without stopping us.
        signal.pthread_sigmask(signal.SIG_UNBLOCK, [signal.SIGTERM])
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        threading.Thread(target=lambda: (sys.stdin.read(), os._exit(0)), daemon=True).start()

        secret = sys.argv[1].encode() if len(sys.argv) > 1 and sys.argv[1] else None
        log, counts, lock = [], {}, threading.Lock()

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def reply(self, status, body=b"{}"):
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                with lock:
                    body = json.dumps(log).encode()
                self.reply(200, body)

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                url = urllib.parse.urlsplit(self.path)
                query = urllib.parse.parse_qs(url.query, keep_blank_values=True)
                signature = self.headers.get("X-Mailfilter-Signature")
                expected = "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest() if secret else None
                with lock:
                    counts[url.path] = counts.get(url.path, 0) + 1
                    attempt = counts[url.path]
                    log.append({
                        "path": url.path, "attempt": attempt,
                        "idempotencyKey": self.headers.get("Idempotency-Key"),
                        "contentType": self.headers.get("Content-Type"),
                        "signature": signature,
                        "signatureValid": bool(expected and signature and hmac.compare_digest(signature, expected)),
                        "body": base64.b64encode(body).decode(),
                    })
                if "fail" in query:
                    status, times = query["fail"][0].split("x")
                    if attempt <= int(times):
                        return self.reply(int(status), b"")
                if "delay" in query:
                    time.sleep(float(query["delay"][0]))
                self.reply(200, query["answer"][0].encode() if "answer" in query else b"{}")

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        print(server.server_address[1], flush=True)
        server.serve_forever()
        """#

    private let process: Process
    /// The port it listens on.
    let port: Int

    private init(process: Process, port: Int) {
        self.process = process
        self.port = port
    }

    /// Runs `body` with a receiver that checks signatures under `secret`, and stops it after.
    static func with<Result>(secret: String? = nil, _ body: (WebhookReceiver) async throws -> Result) async throws -> Result {
        let receiver = try start(secret: secret)
        defer { receiver.stop() }
        return try await body(receiver)
    }

    private static func start(secret: String?) throws -> WebhookReceiver {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        process.arguments = ["-c", script, secret ?? ""]
        let output = Pipe()
        process.standardOutput = output
        process.standardInput = Pipe()
        try process.run()
        var line: [UInt8] = []
        while !line.contains(UInt8(ascii: "\n")) {
            let chunk = output.fileHandleForReading.availableData
            guard !chunk.isEmpty else { break }
            line += chunk
        }
        guard let port = Int(String(decoding: line, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)) else {
            process.terminate()
            throw ReceiverFailure(description: "the receiver did not start: \(String(decoding: line, as: UTF8.self))")
        }
        return WebhookReceiver(process: process, port: port)
    }

    private func stop() {
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    /// The URL of `path` (with its query) on this receiver.
    func url(_ path: String) -> String {
        "http://127.0.0.1:\(port)\(path)"
    }

    /// The URL of `path` answering `answer` with 200.
    func url(_ path: String, answering answer: String) -> String {
        var components = URLComponents(string: url(path))!
        components.queryItems = [URLQueryItem(name: "answer", value: answer)]
        return components.url!.absoluteString
    }

    /// Every POST so far, in order.
    func received() async throws -> [Received] {
        let request = URLRequest(url: URL(string: url("/log"))!)
        let data: Data = try await withCheckedThrowingContinuation { continuation in
            URLSession.shared.dataTask(with: request) { data, _, error in
                if let data {
                    continuation.resume(returning: data)
                } else {
                    continuation.resume(throwing: error ?? ReceiverFailure(description: "no answer from the receiver"))
                }
            }.resume()
        }
        return try JSONDecoder().decode([Received].self, from: data)
    }

    struct ReceiverFailure: Error, CustomStringConvertible {
        var description: String
    }
}
