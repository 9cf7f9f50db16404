import FilterCore
import FilterEngine
import FilterQuarantine
import Foundation
import Hummingbird
import Logging

extension ConsoleFeature {
    /// The entry `id` when `identity` may see it.
    private func visibleEntry(_ id: String, _ identity: WebIdentity, store: QuarantineStore) async throws -> QuarantineEntry? {
        guard let entry = try await store.entry(id), Self.maySee(entry.owner, identity) else { return nil }
        return entry
    }

    func quarantineList(_ request: Request, _ context: WebRequestContext) async throws -> Response {
        let identity = try Self.identity(context)
        guard let store = server.quarantine else {
            return ConsolePage.failure("The quarantine is disabled on this server.", identity: identity, status: .notFound)
        }
        let parameters = request.uri.queryParameters
        let page = Self.pageNumber(parameters)
        let entries = try await store.list(
            owner: Self.scope(of: identity), newestFirst: true, offset: (page - 1) * configuration.pageSize,
            limit: configuration.pageSize + 1)
        let shown = entries.prefix(configuration.pageSize)
        var body = "<h1>Quarantine</h1>" + Self.flash(parameters)
        body += "<table class=\"quarantine\"><thead><tr><th>Quarantined</th><th>Sender</th><th>Recipient</th><th>Subject</th>"
        body += "<th>Action</th><th>Reason</th><th>Expires</th><th></th></tr></thead><tbody>"
        if shown.isEmpty { body += "<tr><td colspan=\"8\">The quarantine is empty.</td></tr>" }
        for entry in shown {
            let id = HTML.escape(entry.id)
            let subject = (try? await store.headerSection(entry.id)).flatMap(Self.subject(ofHeaderSection:)) ?? ""
            body += "<tr data-quarantine-id=\"\(id)\"><td>\(ConsolePage.timestamp(entry.quarantinedAt))</td>"
            body += "<td>\(HTML.escape(ConsolePage.displayedSender(entry.sender)))</td><td>\(HTML.escape(entry.recipient))</td>"
            body += "<td class=\"subject\"><a href=\"/quarantine/\(id)\">\(HTML.escape(subject.isEmpty ? "(no subject)" : subject))</a></td>"
            body += "<td>\(HTML.escape(entry.action.rawValue))</td><td>\(HTML.escape(entry.reason))</td>"
            body += "<td>\(ConsolePage.timestamp(entry.expiresAt))</td><td>\(actionForms(id: entry.id, csrfToken: context.csrfToken))</td></tr>"
        }
        body += "</tbody></table>"
        body += Self.pager(path: "/quarantine", query: [:], page: page, hasMore: entries.count > configuration.pageSize)
        return ConsolePage.render(title: "Quarantine", current: "nav-quarantine", identity: identity, body: body)
    }

    func quarantineEntry(_ context: WebRequestContext) async throws -> Response {
        let identity = try Self.identity(context)
        let id = context.parameters.get("id") ?? ""
        guard let store = server.quarantine, let entry = try await visibleEntry(id, identity, store: store) else {
            return ConsolePage.notFound("No entry \(id) in the quarantine.", identity: identity)
        }
        let message = MIMEMessage(bytes: try await store.message(id, maximumBytes: configuration.maximumMessageBytes))
        var body = "<h1>Quarantined message</h1>"
        body += ConsolePage.definitions([
            ("Subject", HTML.escape(message.subject ?? "(none)")),
            ("Sender", HTML.escape(ConsolePage.displayedSender(entry.sender))),
            ("Recipient", HTML.escape(entry.recipient)),
            ("Owner", HTML.escape(entry.owner)),
            ("Action", HTML.escape(entry.action.rawValue)),
            ("Reason", HTML.escape(entry.reason)),
            ("Verdict", HTML.escape(entry.verdict?.summary ?? "")),
            ("Queue id", HTML.escape(entry.queueID)),
            ("Received", ConsolePage.timestamp(entry.receivedAt)),
            ("Quarantined", ConsolePage.timestamp(entry.quarantinedAt)),
            ("Expires", ConsolePage.timestamp(entry.expiresAt)),
            ("Size", "\(entry.size) octets"),
        ])
        body += "<p data-quarantine-id=\"\(HTML.escape(entry.id))\">\(actionForms(id: entry.id, csrfToken: context.csrfToken))</p>"
        if entry.size > configuration.maximumMessageBytes {
            body += "<p class=\"note\">The message has \(entry.size) octets; what follows is read from its first \(configuration.maximumMessageBytes).</p>"
        }
        body += "<h2>Header</h2><pre class=\"headers\">\(HTML.escape(MessageHeaders.headerSection(of: message.bytes)))</pre>"
        let (label, text) = Self.readableBody(of: message)
        body += "<h2>\(label)</h2><pre class=\"body\">\(HTML.escape(cut(text)))</pre>"
        return ConsolePage.render(title: "Quarantined message", current: "nav-quarantine", identity: identity, body: body)
    }

    func release(_ context: WebRequestContext) async throws -> Response {
        try await change(context, outcome: .released) { id in
            try await server.releaseFromQuarantine(id).map { $0.queueID.rawValue }
        }
    }

    func delete(_ context: WebRequestContext) async throws -> Response {
        try await change(context, outcome: .deleted) { id in
            try await server.deleteFromQuarantine(id) ? "" : nil
        }
    }

    /// What a release or deletion did, carried to the list in the redirect's query (`done`),
    /// so the flash message is composed here from fixed text and escaped ids: a crafted link
    /// cannot put text of its own on the page.
    enum ChangeOutcome: String {
        case released, deleted
        case releaseFailed = "release-failed"
        case deleteFailed = "delete-failed"

        /// The flash text for entry `id`, with `queueID` for a release.
        func message(id: String, queueID: String) -> String {
            switch self {
            case .released: "Released \(id): queued for delivery as \(queueID)."
            case .deleted: "Deleted \(id) from the quarantine."
            case .releaseFailed: "\(id) was not released (another change may be in progress; the server log says why). Try again."
            case .deleteFailed: "\(id) was not deleted (another change may be in progress; the server log says why). Try again."
            }
        }

        var isFailure: Bool { self == .releaseFailed || self == .deleteFailed }
    }

    /// Releases or deletes the entry of the request's `id` after checking the identity may
    /// see it; answers 303 to the list, whose flash message says what happened.
    /// - Parameter operation: Returns the new queue id (release) or "" (deletion), `nil` when
    ///   the entry was gone.
    private func change(
        _ context: WebRequestContext, outcome: ChangeOutcome, _ operation: (String) async throws -> String?
    ) async throws -> Response {
        let identity = try Self.identity(context)
        let id = context.parameters.get("id") ?? ""
        guard let store = server.quarantine, try await visibleEntry(id, identity, store: store) != nil else {
            return ConsolePage.notFound("No entry \(id) in the quarantine.", identity: identity)
        }
        var done = outcome
        var queueID = ""
        do {
            guard let result = try await operation(id) else {
                return ConsolePage.notFound("No entry \(id) in the quarantine.", identity: identity)
            }
            queueID = result
            logger.notice(
                "Quarantine entry \(outcome.rawValue) from the console",
                metadata: ["quarantine.id": "\(id)", "web.user": "\(identity.name)", "mail.queue.id": "\(queueID)"])
        } catch {
            done = outcome == .released ? .releaseFailed : .deleteFailed
            logger.warning("Quarantine change from the console failed", metadata: ["quarantine.id": "\(id)", "error": "\(error)"])
        }
        var components = URLComponents()
        components.path = "/quarantine"
        components.queryItems = [URLQueryItem(name: "done", value: done.rawValue), URLQueryItem(name: "id", value: id)]
        if !queueID.isEmpty { components.queryItems?.append(URLQueryItem(name: "queue", value: queueID)) }
        return Response(status: .seeOther, headers: [.location: components.string ?? "/quarantine"])
    }

    /// The release and delete buttons of one entry, each a form with the CSRF token.
    private func actionForms(id: String, csrfToken: String?) -> String {
        let path = "/quarantine/" + HTML.escape(id)
        let token = ConsolePage.csrfField(csrfToken)
        return "<form class=\"inline\" method=\"post\" action=\"\(path)/release\">\(token)<button type=\"submit\" class=\"release\">Release</button></form> "
            + "<form class=\"inline\" method=\"post\" action=\"\(path)/delete\">\(token)<button type=\"submit\" class=\"delete\">Delete</button></form>"
    }

    /// The flash message element for the `done`, `id` and `queue` query parameters of a
    /// redirect after a change; empty without them.
    private static func flash(_ parameters: Parameters) -> String {
        guard let done = parameters.get("done").flatMap({ ChangeOutcome(rawValue: String($0)) }) else { return "" }
        let id = parameters.get("id").map { String($0) } ?? ""
        let queueID = parameters.get("queue").map { String($0) } ?? ""
        // Ids only: a link with words in them would put the link author's text on the page.
        guard Self.looksLikeID(id), queueID.isEmpty || QueueID(rawValue: queueID) != nil else { return "" }
        let text = done.message(id: id, queueID: queueID)
        return "<p id=\"flash\"\(done.isFailure ? " class=\"error\"" : "")>\(HTML.escape(text))</p>"
    }

    /// The decoded `Subject` of a stored header section.
    static func subject(ofHeaderSection header: String) -> String? {
        MIMEMessage(bytes: Array((header + "\r\n\r\n").utf8)).subject
    }

    /// The text to show of a message: its text body, else its HTML body as source (never
    /// rendered), else nothing.
    static func readableBody(of message: MIMEMessage) -> (label: String, text: String) {
        if let text = message.textBody { return ("Text body", text) }
        if let html = message.htmlBody { return ("HTML body (source, not rendered)", html) }
        return ("Body", "(no text part)")
    }

    /// `text` cut at ``ConsoleConfiguration/maximumBodyCharacters`` with a note.
    private func cut(_ text: String) -> String {
        guard text.count > configuration.maximumBodyCharacters else { return text }
        return String(text.prefix(configuration.maximumBodyCharacters)) + "\n[... cut: the rest is not shown]"
    }

    /// Whether `text` has the shape of a quarantine id (a request id: letters, digits, `.`,
    /// `-`, `_`; at most 128 characters).
    static func looksLikeID(_ text: String) -> Bool {
        !text.isEmpty && text.utf8.count <= 128
            && text.unicodeScalars.allSatisfy { ($0.isASCII && $0.properties.isAlphabetic) || ("0"..."9").contains($0) || ".-_".unicodeScalars.contains($0) }
    }
}
