import Hummingbird

/// The console's one stylesheet and one script, served from these constants: the content
/// security policy allows no inline script or style, and no front-end build chain is needed.
enum ConsoleAssets {
    /// Where the stylesheet is served.
    static let stylesheetPath = "/static/console.css"
    /// Where the script is served.
    static let scriptPath = "/static/console.js"

    /// The stylesheet as a response.
    static func stylesheetResponse() -> Response {
        response(stylesheet, contentType: "text/css; charset=utf-8")
    }

    /// The script as a response.
    static func scriptResponse() -> Response {
        response(script, contentType: "text/javascript; charset=utf-8")
    }

    private static func response(_ text: String, contentType: String) -> Response {
        Response(
            status: .ok, headers: [.contentType: contentType, .cacheControl: "no-cache"],
            body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    static let stylesheet = """
        body { font-family: system-ui, sans-serif; margin: 0; color: #1d2329; background: #f6f7f9; }
        header { background: #23313f; padding: 0.6em 1.2em; }
        header nav a { color: #fff; margin-right: 1.2em; text-decoration: none; }
        header nav a.current { border-bottom: 2px solid #8fc3ff; }
        header .who { color: #c8d3de; float: right; }
        main { padding: 1em 1.5em; }
        table { border-collapse: collapse; width: 100%; background: #fff; margin-bottom: 1.2em; }
        th, td { text-align: left; padding: 0.3em 0.6em; border-bottom: 1px solid #e1e5ea; vertical-align: top; }
        th { background: #eef1f4; }
        td.subject { max-width: 28em; overflow-wrap: anywhere; }
        .stats { display: flex; flex-wrap: wrap; gap: 1em; margin-bottom: 1.2em; }
        .stat { background: #fff; padding: 0.6em 1em; border: 1px solid #e1e5ea; min-width: 9em; }
        .stat .value { font-size: 1.6em; display: block; }
        .bad { color: #b00020; }
        .good { color: #1b7a33; }
        #flash { background: #e6f4ea; border: 1px solid #9bd3ab; padding: 0.6em 1em; margin-bottom: 1em; }
        #flash.error { background: #fdecea; border-color: #f5a9a3; }
        pre { background: #fff; border: 1px solid #e1e5ea; padding: 0.8em; white-space: pre-wrap; overflow-wrap: anywhere; }
        form.inline { display: inline; }
        button { cursor: pointer; }
        .pager a { margin-right: 1em; }
        """

    /// Opens `/live` (server-sent events): `row` events are prepended to the message table
    /// (`tbody#live-messages` with `data-live="on"`), values set with `textContent` only;
    /// `status` events set the text of every `[data-stat=KEY]` element.
    static let script = """
        "use strict";
        (function () {
          if (!window.EventSource) { return; }
          var maximumRows = 200;
          function cell(row, text, className) {
            var td = document.createElement("td");
            td.textContent = text === null || text === undefined ? "" : String(text);
            if (className) { td.className = className; }
            row.appendChild(td);
            return td;
          }
          function timestamp(text) {
            var date = new Date(text);
            return isNaN(date.getTime()) ? "" : date.toISOString().slice(0, 19).replace("T", " ") + "Z";
          }
          function addRow(message) {
            var body = document.getElementById("live-messages");
            if (!body || body.getAttribute("data-live") !== "on") { return; }
            var row = document.createElement("tr");
            row.setAttribute("data-queue-id", message.queueID);
            cell(row, timestamp(message.finishedAt));
            var idCell = cell(row, "");
            var link = document.createElement("a");
            link.setAttribute("href", "/messages/" + encodeURIComponent(message.queueID));
            link.textContent = message.queueID;
            idCell.appendChild(link);
            cell(row, message.sender === "" ? "<>" : message.sender);
            cell(row, message.recipient);
            cell(row, message.subject, "subject");
            cell(row, message.action);
            cell(row, message.state);
            body.insertBefore(row, body.firstChild);
            var empty = document.getElementById("no-messages");
            if (empty) { empty.parentNode.removeChild(empty); }
            while (body.rows.length > maximumRows) { body.deleteRow(body.rows.length - 1); }
          }
          function setStats(status) {
            var stats = status.stats || {};
            var elements = document.querySelectorAll("[data-stat]");
            for (var i = 0; i < elements.length; i++) {
              var key = elements[i].getAttribute("data-stat");
              if (Object.prototype.hasOwnProperty.call(stats, key)) { elements[i].textContent = String(stats[key]); }
            }
          }
          var source = new EventSource("/live");
          source.addEventListener("row", function (event) { addRow(JSON.parse(event.data)); });
          source.addEventListener("status", function (event) { setStats(JSON.parse(event.data)); });
        })();
        """
}
