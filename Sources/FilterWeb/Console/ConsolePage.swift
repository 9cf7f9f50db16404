import FilterCore
import Foundation
import Hummingbird

/// The frame and the recurring pieces of the console's pages. Every value that came from mail,
/// a user or the configuration goes through ``HTML/escape(_:)`` here or in the caller.
enum ConsolePage {
    /// The navigation entries: element id, path, label, whether only admins see it.
    private static let navigation: [(id: String, path: String, label: String, adminOnly: Bool)] = [
        ("nav-overview", "/", "Overview", false),
        ("nav-messages", "/messages", "Messages", false),
        ("nav-quarantine", "/quarantine", "Quarantine", false),
        ("nav-users", "/users", "Users", true),
    ]

    /// A complete console page: navigation for `identity` (with `current` marked), `body`
    /// (markup) in `<main>`, the console's stylesheet and script.
    static func render(
        title: String, current: String, identity: WebIdentity, body: String, status: HTTPResponse.Status = .ok
    ) -> Response {
        var header = "<header><nav>"
        for item in navigation where !item.adminOnly || identity.role == .admin {
            let marker = item.id == current ? " class=\"current\"" : ""
            header += "<a id=\"\(item.id)\" href=\"\(item.path)\"\(marker)>\(item.label)</a>"
        }
        header += "<span class=\"who\">\(HTML.escape(identity.name)) (\(identity.role.rawValue))</span></nav></header>"
        return HTML.document(
            title: "filterd: " + title, body: header + "<main>" + body + "</main>",
            stylesheets: [ConsoleAssets.stylesheetPath], scripts: [ConsoleAssets.scriptPath], status: status)
    }

    /// A page saying what was not found; also what a user gets for another owner's mail.
    static func notFound(_ what: String, identity: WebIdentity) -> Response {
        render(
            title: "Not found", current: "", identity: identity,
            body: "<h1>Not found</h1><p>\(HTML.escape(what))</p>", status: .notFound)
    }

    /// A page reporting a failure the operator can act on.
    static func failure(_ message: String, identity: WebIdentity, status: HTTPResponse.Status = .internalServerError) -> Response {
        render(
            title: "Error", current: "", identity: identity,
            body: "<h1>Error</h1><p id=\"flash\" class=\"error\">\(HTML.escape(message))</p>", status: status)
    }

    /// The message table: its body is `tbody#live-messages` (filled live by console.js when
    /// `live`), each row `tr[data-queue-id]`.
    static func messageTable(_ rows: [MessageLogRow], live: Bool) -> String {
        var html = "<table class=\"messages\"><thead><tr><th>Finished</th><th>Queue id</th><th>Sender</th><th>Recipient</th>"
        html += "<th>Subject</th><th>Action</th><th>State</th></tr></thead>"
        html += "<tbody id=\"live-messages\" data-live=\"\(live ? "on" : "off")\">"
        if rows.isEmpty {
            html += "<tr id=\"no-messages\"><td colspan=\"7\">No messages.</td></tr>"
        }
        for row in rows {
            let id = HTML.escape(row.queueID)
            html += "<tr data-queue-id=\"\(id)\"><td>\(timestamp(row.finishedAt))</td>"
            html += "<td><a href=\"/messages/\(id)\">\(id)</a></td>"
            html += "<td>\(HTML.escape(displayedSender(row.sender)))</td><td>\(HTML.escape(row.recipient))</td>"
            html += "<td class=\"subject\">\(HTML.escape(row.subject ?? ""))</td>"
            html += "<td>\(HTML.escape(row.action.rawValue))</td><td>\(HTML.escape(row.state))</td></tr>"
        }
        return html + "</tbody></table>"
    }

    /// The hidden CSRF field every form carries.
    static func csrfField(_ token: String?) -> String {
        "<input type=\"hidden\" name=\"csrf_token\" value=\"\(HTML.escape(token ?? ""))\">"
    }

    /// `2026-11-26 06:40:12Z`: UTC, to the second (what console.js writes too).
    static func timestamp(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withFullDate, .withTime, .withColonSeparatorInTime, .withDashSeparatorInDate, .withSpaceBetweenDateAndTime]
        return formatter.string(from: date) + "Z"
    }

    /// The null reverse-path shown as `<>`.
    static func displayedSender(_ sender: String) -> String {
        sender.isEmpty ? "<>" : sender
    }

    /// A `<dl>` of label and already-escaped value pairs.
    static func definitions(_ items: [(String, String)]) -> String {
        "<dl>" + items.map { "<dt>\(HTML.escape($0.0))</dt><dd>\($0.1)</dd>" }.joined() + "</dl>"
    }
}
