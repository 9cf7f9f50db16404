import FilterCore
import FilterEngine
import FilterQuarantine
import FilterQueue
import Foundation
import Hummingbird
import Logging

/// The server console: overview, message log, quarantine (also as self-service for users),
/// the owners the server has seen, and live updates over server-sent events.
///
/// Every page needs an identity (``WebRequestContext/identity``, set by the authenticating
/// middleware in front): an admin sees the whole server, a user only the mail of their own
/// owner; another owner's message or quarantine entry answers 404, like one that does not
/// exist, so ids cannot be probed. `/users` is for admins only. Forms carry the session's CSRF
/// token (``WebRequestContext/csrfToken``) in `csrf_token`, which the session middleware checks.
/// See docs/console.md.
public struct ConsoleFeature: WebFeature {
    let server: FilterServer
    let messageLog: MessageLog
    let configuration: ConsoleConfiguration
    let logger: Logger
    let liveStreams: LiveStreamLimiter

    /// Creates the console of `server`.
    /// - Parameters:
    ///   - server: The running server: its status, its owners' subscriptions, its quarantine.
    ///   - messageLog: The log the server records outcomes in (one of its observers).
    ///   - configuration: Page sizes and live-update intervals.
    ///   - logger: Where releases, deletions and failures are logged.
    public init(server: FilterServer, messageLog: MessageLog, configuration: ConsoleConfiguration = .init(), logger: Logger) {
        self.server = server
        self.messageLog = messageLog
        self.configuration = configuration
        self.logger = logger
        self.liveStreams = LiveStreamLimiter(
            maximum: configuration.maximumLiveStreams, maximumPerName: configuration.maximumLiveStreamsPerUser)
    }

    /// Adds the console's routes to `router`.
    public func addRoutes(to router: Router<WebRequestContext>) {
        router.get(RouterPath(ConsoleAssets.stylesheetPath)) { _, _ in ConsoleAssets.stylesheetResponse() }
        router.get(RouterPath(ConsoleAssets.scriptPath)) { _, _ in ConsoleAssets.scriptResponse() }
        let pages = router.group().add(middleware: RequireLogin(role: nil))
        pages.get("/") { _, context in try await overview(context) }
        pages.get("/messages") { request, context in try await messages(request, context) }
        pages.get("/messages/:queueID") { _, context in try await message(context) }
        pages.get("/quarantine") { request, context in try await quarantineList(request, context) }
        pages.get("/quarantine/:id") { _, context in try await quarantineEntry(context) }
        pages.post("/quarantine/:id/release") { _, context in try await release(context) }
        pages.post("/quarantine/:id/delete") { _, context in try await delete(context) }
        pages.get("/live") { _, context in try live(context) }
        router.group().add(middleware: RequireLogin(role: .admin)).get("/users") { _, context in try await users(context) }
    }

    // MARK: - Who may see what

    /// The identity the access middleware let through.
    static func identity(_ context: WebRequestContext) throws -> WebIdentity {
        guard let identity = context.identity else { throw HTTPError(.unauthorized) }
        return identity
    }

    /// The owner whose mail `identity` may see; `nil` for an admin (everything). A user without
    /// an owner sees nothing.
    static func scope(of identity: WebIdentity) -> String? {
        identity.role == .admin ? nil : (identity.owner ?? "")
    }

    /// Whether `identity` may see mail of `owner`.
    static func maySee(_ owner: String, _ identity: WebIdentity) -> Bool {
        scope(of: identity).map { $0.lowercased() == owner.lowercased() } ?? true
    }

    // MARK: - Overview

    private func overview(_ context: WebRequestContext) async throws -> Response {
        let identity = try Self.identity(context)
        let scope = Self.scope(of: identity)
        let stats = try await statistics(scope: scope, now: Date())
        let recent = try await messageLog.search(MessageLogQuery(owner: scope, pageSize: configuration.overviewRows))
        var body = "<h1>Overview</h1>"
        if scope == nil {
            body += "<div class=\"stats\">"
            for (key, label) in Self.serverStatLabels {
                body += "<div class=\"stat\"><span class=\"value\" data-stat=\"\(key)\">\(HTML.escape(stats[key] ?? ""))</span>\(label)</div>"
            }
            body += "</div><p>Next hop: last reply <span data-stat=\"nextHopReply\">\(HTML.escape(stats["nextHopReply"] ?? ""))</span>"
            body += " at <span data-stat=\"nextHopAt\">\(HTML.escape(stats["nextHopAt"] ?? ""))</span></p>"
        } else {
            body += "<p>Your mail: <strong>\(HTML.escape(scope ?? ""))</strong></p>"
        }
        body += "<h2>Decisions by action</h2><table class=\"decisions\"><thead><tr><th>Action</th><th>Last hour</th><th>Last day</th></tr></thead><tbody>"
        for action in FilterAction.allKnown {
            let name = HTML.escape(action.rawValue)
            body += "<tr><td>\(name)</td><td data-stat=\"hour.\(name)\">\(stats["hour." + action.rawValue] ?? "0")</td>"
            body += "<td data-stat=\"day.\(name)\">\(stats["day." + action.rawValue] ?? "0")</td></tr>"
        }
        body += "</tbody></table><h2>Latest messages</h2>" + ConsolePage.messageTable(recent.rows, live: true)
        return ConsolePage.render(title: "Overview", current: "nav-overview", identity: identity, body: body)
    }

    /// The admin's counters on the overview: `data-stat` key and label.
    private static let serverStatLabels: [(String, String)] = [
        ("messagesPerSecond", "messages/s (last minute)"), ("queueDepth", "in the queue"), ("deferred", "deferred"),
        ("outstandingRequests", "awaiting an owner"), ("nextHop", "next hop"),
    ]

    /// The overview's counters by `data-stat` key: decisions by action over the last hour and
    /// day (of `scope`'s mail, or everyone's), and for an admin the server's status. The same
    /// values go to the page and to `/live` status events.
    func statistics(scope: String?, now: Date) async throws -> [String: String] {
        var stats: [String: String] = [:]
        let hour = try await messageLog.countsByAction(since: now.addingTimeInterval(-3600), owner: scope)
        let day = try await messageLog.countsByAction(since: now.addingTimeInterval(-86400), owner: scope)
        for action in FilterAction.allKnown {
            stats["hour." + action.rawValue] = "\(hour[action] ?? 0)"
            stats["day." + action.rawValue] = "\(day[action] ?? 0)"
        }
        guard scope == nil else { return stats }
        let status = await server.status()
        stats["messagesPerSecond"] = String(format: "%.2f", Double(status.receivedLastMinute) / 60)
        stats["queueDepth"] = "\(status.queueDepth)"
        stats["deferred"] = "\(status.deferred)"
        stats["outstandingRequests"] = "\(status.outstandingRequests)"
        switch status.nextHop.lastAttemptSucceeded {
        case true?: stats["nextHop"] = "ok"
        case false?: stats["nextHop"] = "failing"
        case nil: stats["nextHop"] = "no attempt yet"
        }
        stats["nextHopReply"] = status.nextHop.lastReply ?? "none"
        stats["nextHopAt"] = status.nextHop.lastAttemptAt.map(ConsolePage.timestamp) ?? "never"
        return stats
    }

    // MARK: - Message log

    private func messages(_ request: Request, _ context: WebRequestContext) async throws -> Response {
        let identity = try Self.identity(context)
        let parameters = request.uri.queryParameters
        let text = parameters.get("q").map { String($0) } ?? ""
        let actionText = parameters.get("action").map { String($0) } ?? ""
        let action = actionText.isEmpty ? nil : FilterAction(rawValue: actionText.lowercased())
        let page = Self.pageNumber(parameters)
        let result = try await messageLog.search(
            MessageLogQuery(text: text, action: action, owner: Self.scope(of: identity), page: page, pageSize: configuration.pageSize))
        var body = "<h1>Messages</h1><form method=\"get\" action=\"/messages\" class=\"search\">"
        body += "<input type=\"search\" name=\"q\" value=\"\(HTML.escape(text))\" placeholder=\"queue id, sender or recipient\">"
        body += "<select name=\"action\"><option value=\"\">any action</option>"
        for known in FilterAction.allKnown {
            let selected = known == action ? " selected" : ""
            body += "<option value=\"\(known.rawValue)\"\(selected)>\(known.rawValue)</option>"
        }
        body += "</select><button type=\"submit\">Search</button></form>"
        // New rows arrive live only on the unfiltered first page, where they belong.
        let live = text.isEmpty && action == nil && page == 1
        body += ConsolePage.messageTable(result.rows, live: live)
        body += Self.pager(path: "/messages", query: ["q": text, "action": actionText], page: page, hasMore: result.hasMore)
        return ConsolePage.render(title: "Messages", current: "nav-messages", identity: identity, body: body)
    }

    private func message(_ context: WebRequestContext) async throws -> Response {
        let identity = try Self.identity(context)
        let queueID = context.parameters.get("queueID") ?? ""
        let rows = try await messageLog.rows(queueID: queueID, owner: Self.scope(of: identity))
        guard let first = rows.first else {
            return ConsolePage.notFound("No message \(queueID) in the log.", identity: identity)
        }
        var body = "<h1>Message \(HTML.escape(queueID))</h1>"
        body += ConsolePage.definitions([
            ("Subject", HTML.escape(first.subject ?? "(none)")),
            ("Sender", HTML.escape(ConsolePage.displayedSender(first.sender))),
            ("Received", ConsolePage.timestamp(first.receivedAt)),
        ])
        for row in rows {
            body += "<section class=\"recipient\" data-recipient=\"\(HTML.escape(row.recipient))\"><h2>\(HTML.escape(row.recipient))</h2>"
            body += ConsolePage.definitions([
                ("Owner", HTML.escape(row.owner)),
                ("Action", HTML.escape(row.action.rawValue)),
                ("Decided by", HTML.escape(row.source)),
                ("State", HTML.escape(row.state)),
                ("Finished", ConsolePage.timestamp(row.finishedAt)),
                ("Reason", HTML.escape(row.reason ?? "")),
                ("Detail", HTML.escape(row.detail ?? "")),
                ("Score", row.score.map { HTML.escape(String(format: "%.2f", $0)) } ?? ""),
                ("Tags", HTML.escape(row.tags.joined(separator: ", "))),
            ])
            if !row.processors.isEmpty {
                body += "<table class=\"processors\"><thead><tr><th>Processor</th><th>Outcome</th><th>ms</th></tr></thead><tbody>"
                for trace in row.processors {
                    body += "<tr><td>\(HTML.escape(trace.name))</td><td>\(HTML.escape(trace.outcome))</td><td>\(trace.ms)</td></tr>"
                }
                body += "</tbody></table>"
            }
            body += "</section>"
        }
        return ConsolePage.render(title: "Message \(queueID)", current: "nav-messages", identity: identity, body: body)
    }

    /// The highest page number a request may ask for: far beyond any real log, small enough
    /// that page × page size never overflows.
    static let maximumPage = 1_000_000

    /// The `page` parameter, 1 when absent or not a number, kept within 1...``maximumPage``.
    static func pageNumber(_ parameters: Parameters) -> Int {
        min(max(1, parameters.get("page").flatMap { Int(String($0)) } ?? 1), maximumPage)
    }

    /// Links to the previous and next page, keeping the query's other parameters.
    static func pager(path: String, query: [String: String], page: Int, hasMore: Bool) -> String {
        func link(_ number: Int, _ label: String) -> String {
            var items = query.filter { !$0.value.isEmpty }.sorted { $0.key < $1.key }.map { URLQueryItem(name: $0.key, value: $0.value) }
            items.append(URLQueryItem(name: "page", value: "\(number)"))
            var components = URLComponents()
            components.path = path
            components.queryItems = items
            return "<a href=\"\(HTML.escape(components.string ?? path))\">\(label)</a>"
        }
        var html = "<p class=\"pager\">"
        if page > 1 { html += link(page - 1, "&larr; newer") }
        if hasMore { html += link(page + 1, "older &rarr;") }
        return html + "</p>"
    }

    // MARK: - Users

    private func users(_ context: WebRequestContext) async throws -> Response {
        let identity = try Self.identity(context)
        let seen = try await messageLog.owners()
        let checks = await server.knownOwners()
        var owners: [String: (activity: MessageLogOwner?, check: OwnerSubscription?)] = [:]
        for owner in seen { owners[owner.owner.lowercased(), default: (nil, nil)].activity = owner }
        for check in checks { owners[check.owner.lowercased(), default: (nil, nil)].check = check }
        var body = "<h1>Users</h1><p>Owners the server has asked about since it started, and owners with mail in the message log.</p>"
        body += "<table class=\"users\"><thead><tr><th>Owner</th><th>Subscription</th><th>Checked</th><th>Last activity</th>"
        body += "<th>Outcomes in the log</th></tr></thead><tbody>"
        for (key, owner) in owners.sorted(by: { $0.key < $1.key }) {
            let name = owner.check?.owner ?? owner.activity?.owner ?? key
            body += "<tr data-owner=\"\(HTML.escape(name))\"><td>\(HTML.escape(name))</td>"
            body += "<td>\(owner.check.map { Self.describe($0.subscription) } ?? "not checked since start")</td>"
            body += "<td>\(owner.check.map { ConsolePage.timestamp($0.checkedAt) } ?? "")</td>"
            body += "<td>\(owner.activity.map { ConsolePage.timestamp($0.lastActivity) } ?? "")</td>"
            body += "<td>\(owner.activity?.outcomes ?? 0)</td></tr>"
        }
        if owners.isEmpty { body += "<tr><td colspan=\"5\">No owners seen yet.</td></tr>" }
        body += "</tbody></table>"
        return ConsolePage.render(title: "Users", current: "nav-users", identity: identity, body: body)
    }

    static func describe(_ subscription: Subscription) -> String {
        switch subscription {
        case .none: "no queue"
        case .offline: "offline"
        case .online(let consumers): "online (\(consumers) client\(consumers == 1 ? "" : "s"))"
        }
    }
}
