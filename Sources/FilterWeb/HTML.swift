import Hummingbird

/// Server-rendered HTML: the one escaping function every page uses for values that came from
/// mail, users or configuration, and the document frame around a page's body.
public enum HTML {
    /// `text` safe as element content and as a double- or single-quoted attribute value: `&`,
    /// `<`, `>`, `"` and `'` become character references; everything else is kept.
    public static func escape(_ text: some StringProtocol) -> String {
        var escaped = ""
        escaped.reserveCapacity(text.utf8.count)
        for character in text.unicodeScalars {
            switch character {
            case "&": escaped += "&amp;"
            case "<": escaped += "&lt;"
            case ">": escaped += "&gt;"
            case "\"": escaped += "&quot;"
            case "'": escaped += "&#39;"
            default: escaped.unicodeScalars.append(character)
            }
        }
        return escaped
    }

    /// A complete `text/html` response: the document frame with `title` (escaped here),
    /// the stylesheets and scripts given by path (served by the listener itself; the content
    /// security policy allows no inline script), and `body`, which must already be markup.
    public static func document(
        title: String, body: String, stylesheets: [String] = [], scripts: [String] = [], status: HTTPResponse.Status = .ok
    ) -> Response {
        var page = "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        page += "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
        page += "<title>\(escape(title))</title>"
        for stylesheet in stylesheets { page += "<link rel=\"stylesheet\" href=\"\(escape(stylesheet))\">" }
        for script in scripts { page += "<script src=\"\(escape(script))\" defer></script>" }
        page += "</head><body>\(body)</body></html>\n"
        return Response(
            status: status,
            headers: [.contentType: "text/html; charset=utf-8", .cacheControl: "no-store"],
            body: .init(byteBuffer: ByteBuffer(string: page)))
    }
}
