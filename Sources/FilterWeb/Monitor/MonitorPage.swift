import FilterCore
import FilterEngine
import FilterQueue
import Foundation

/// The markup of the client monitor's page. Every value that came from mail (addresses,
/// subjects, reasons, processor names and outcomes) goes through ``HTML/escape(_:)``.
struct MonitorPage {
    let owner: String
    let broker: String
    let connection: BrokerConnectionState
    let snapshot: ClientMonitor.Snapshot
    let now: Date

    var body: String {
        var html = "<header><h1>filterd client</h1><p>Owner <strong>\(HTML.escape(owner))</strong></p></header><main>"
        html += connectionSection
        html += statisticsSection
        html += recentSection
        html += "</main>"
        return html
    }

    private var connectionSection: String {
        var html = "<section id=\"connection\"><h2>Broker connection</h2><dl>"
        html += "<dt>State</dt><dd class=\"state-\(HTML.escape(connection.status.rawValue))\">\(HTML.escape(connection.status.rawValue))</dd>"
        html += "<dt>Since</dt><dd>\(Self.time(connection.since)) (\(Self.age(from: connection.since, to: now)) ago)</dd>"
        html += "<dt>Broker</dt><dd>\(HTML.escape(broker))</dd>"
        if let error = connection.lastError {
            html += "<dt>Last error</dt><dd>\(HTML.escape(error))</dd>"
        }
        html += "</dl></section>"
        return html
    }

    private var statisticsSection: String {
        var html = "<section id=\"statistics\"><h2>Pipeline statistics</h2>"
        html += "<p>\(snapshot.answered) requests decided since \(Self.time(snapshot.startedAt))"
        let actions = snapshot.actions.sorted { $0.key.rawValue < $1.key.rawValue }
        if !actions.isEmpty {
            html += ": " + actions.map { "\(HTML.escape($0.key.rawValue)) \($0.value)" }.joined(separator: ", ")
        }
        html += ".</p>"
        html += "<table><thead><tr><th>Processor</th><th>Runs</th><th>Decisions</th><th>Errors</th><th>Timeouts</th><th>Mean ms</th></tr></thead><tbody>"
        for processor in snapshot.processors {
            html += "<tr><td>\(HTML.escape(processor.name))</td><td>\(processor.runs)</td><td>\(processor.decisions)</td>"
            html += "<td>\(processor.errors)</td><td>\(processor.timeouts)</td>"
            html += "<td>\(String(format: "%.1f", processor.meanMilliseconds))</td></tr>"
        }
        html += "</tbody></table></section>"
        return html
    }

    private var recentSection: String {
        var html = "<section id=\"recent\"><h2>Recent decisions</h2>"
        guard !snapshot.recent.isEmpty else { return html + "<p>No request decided yet.</p></section>" }
        html += "<table><thead><tr><th>Time</th><th>Queue id</th><th>Recipient</th><th>Sender</th><th>Subject</th>"
        html += "<th>Action</th><th>Reason</th><th>Processors</th></tr></thead><tbody>"
        for answer in snapshot.recent {
            let request = answer.request
            let sender = request.map { $0.envelope.mailFrom.isEmpty ? "<>" : $0.envelope.mailFrom }
            html += "<tr><td>\(Self.time(answer.decidedAt))</td>"
            html += "<td>\(HTML.escape(request?.queueId ?? "-"))</td>"
            html += "<td>\(HTML.escape(request?.envelope.recipient ?? "-"))</td>"
            html += "<td>\(HTML.escape(sender ?? "-"))</td>"
            html += "<td>\(HTML.escape(answer.subject ?? ""))</td>"
            html += "<td class=\"action\">\(HTML.escape(answer.reply.action.rawValue))</td>"
            html += "<td>\(HTML.escape(answer.reply.reason ?? ""))</td><td><ol>"
            for trace in answer.reply.processors ?? [] {
                html += "<li>\(HTML.escape(trace.name)): \(HTML.escape(trace.outcome)), \(trace.ms) ms</li>"
            }
            html += "</ol></td></tr>"
        }
        html += "</tbody></table></section>"
        return html
    }

    /// A time in UTC, ISO 8601 to the second.
    static func time(_ date: Date) -> String {
        date.formatted(.iso8601)
    }

    /// `3 s`, `4 min`, `2 h`, `5 d`: how long ago, roughly.
    static func age(from start: Date, to end: Date) -> String {
        let seconds = max(0, Int(end.timeIntervalSince(start)))
        switch seconds {
        case ..<120: return "\(seconds) s"
        case ..<7200: return "\(seconds / 60) min"
        case ..<172_800: return "\(seconds / 3600) h"
        default: return "\(seconds / 86400) d"
        }
    }

    /// The page's stylesheet (served as `/static/monitor.css`: the security policy allows no
    /// inline style).
    static let stylesheet = """
        body { font-family: system-ui, sans-serif; margin: 1.5em; color: #222; }
        table { border-collapse: collapse; margin-top: 0.5em; }
        th, td { border: 1px solid #ccc; padding: 0.25em 0.5em; text-align: left; vertical-align: top; }
        th { background: #f3f3f3; }
        dl { display: grid; grid-template-columns: max-content auto; gap: 0.25em 1em; }
        dt { font-weight: bold; }
        ol { margin: 0; padding-left: 1.2em; }
        .state-connected { color: #17692b; }
        .state-reconnecting, .state-connecting { color: #9a6700; }
        .state-closed { color: #b42318; }
        """
}
