import FilterCore
import Foundation

/// Applies ``HeaderEdits`` to a message's header section: a pure function over bytes.
///
/// Fields the filter owns (`X-Filter-*`) are always removed, so an incoming message cannot
/// forge a verdict; for spam every `X-Spam-*` field is removed too. Everything else is kept
/// byte for byte, folding included. New fields go at the end of the header section, so the
/// trace fields stay on top.
enum HeaderRewriter {
    /// Where the body starts: the offset just past the empty line that ends the header section,
    /// or the message's length when it has no body. Lines may end in CRLF or a bare LF.
    static func bodyOffset(of message: some Collection<UInt8>) -> Int {
        var offset = 0
        var atLineStart = true
        var iterator = message.makeIterator()
        var pendingCR = false
        while let byte = iterator.next() {
            offset += 1
            if byte == UInt8(ascii: "\n") {
                if atLineStart { return offset }
                atLineStart = true
                pendingCR = false
            } else if byte == UInt8(ascii: "\r"), atLineStart, !pendingCR {
                pendingCR = true
            } else {
                atLineStart = false
                pendingCR = false
            }
        }
        return offset
    }

    /// The header section `header` (as cut by ``bodyOffset(of:)``, its empty line included)
    /// with `edits` applied, ending in its empty line, every line in CRLF.
    /// - Parameter allowUTF8: whether the message travels with SMTPUTF8, so a non-ASCII subject
    ///   tag may be written as is; otherwise it is an RFC 2047 encoded-word.
    static func rewrite(_ header: [UInt8], with edits: HeaderEdits, allowUTF8: Bool) -> [UInt8] {
        var output: [UInt8] = []
        output.reserveCapacity(header.count + 512)
        var taggedSubject = false
        for field in fields(of: header) {
            let name = field.name.lowercased()
            if name.hasPrefix("x-filter-") || (edits.spamScore != nil && name.hasPrefix("x-spam-")) { continue }
            if name == "subject", !taggedSubject, let tag = edits.subjectTag {
                output += taggedSubjectField(field.lines, tag: tag, allowUTF8: allowUTF8)
                taggedSubject = true
                continue
            }
            output += field.lines
        }
        if !taggedSubject, let tag = edits.subjectTag {
            output += Array("Subject: \(encodedTag(tag, beforeEncodedWord: false, allowUTF8: allowUTF8))\r\n".utf8)
        }
        output += addedFields(edits, allowUTF8: allowUTF8)
        output += [UInt8(ascii: "\r"), UInt8(ascii: "\n")]
        return output
    }

    /// The fields `edits` adds, each ending in CRLF: the reply's fields, the spam marking and
    /// the verdict, in that order.
    static func addedFields(_ edits: HeaderEdits, allowUTF8: Bool) -> [UInt8] {
        var output: [UInt8] = []
        func append(_ name: String, _ value: String) {
            output += Array("\(name): \(value)\r\n".utf8)
        }
        for field in edits.addedFields {
            append(field.name, encodedText(field.value, allowUTF8: allowUTF8))
        }
        if let spam = edits.spamScore {
            append("X-Spam-Flag", "YES")
            if let score = spam.score {
                let formatted = String(format: "%.1f", score)
                append("X-Spam-Score", formatted)
                append("X-Spam-Status", "Yes, score=\(formatted)")
            } else {
                append("X-Spam-Status", "Yes")
            }
        }
        append("X-Filter-Verdict", edits.verdict)
        return output
    }

    /// One header field: its name and its lines, folding included, each ending in CRLF.
    struct Field {
        var name: String
        var lines: [UInt8]
    }

    /// The fields of a header section; lines without a colon stay attached to the field before.
    static func fields(of header: [UInt8]) -> [Field] {
        var fields: [Field] = []
        var start = 0
        while start < header.count {
            var end = start
            while end < header.count, header[end] != UInt8(ascii: "\n") { end += 1 }
            var contentEnd = end
            if contentEnd > start, header[contentEnd - 1] == UInt8(ascii: "\r") { contentEnd -= 1 }
            let line = header[start..<contentEnd]
            start = end + 1
            if line.isEmpty { break }
            let lineBytes = Array(line) + [UInt8(ascii: "\r"), UInt8(ascii: "\n")]
            let continues = line.first == UInt8(ascii: " ") || line.first == UInt8(ascii: "\t")
            if continues || !line.contains(UInt8(ascii: ":")), !fields.isEmpty {
                fields[fields.count - 1].lines += lineBytes
            } else {
                let name = line.prefix { $0 != UInt8(ascii: ":") }
                let trimmed = String(decoding: name, as: UTF8.self).trimmingCharacters(in: .whitespaces)
                fields.append(Field(name: trimmed, lines: lineBytes))
            }
        }
        return fields
    }

    /// The Subject field with `tag` in front of its value, unless the value already starts with it.
    private static func taggedSubjectField(_ lines: [UInt8], tag: String, allowUTF8: Bool) -> [UInt8] {
        guard let colon = lines.firstIndex(of: UInt8(ascii: ":")) else { return lines }
        var valueStart = colon + 1
        while valueStart < lines.count, lines[valueStart] == UInt8(ascii: " ") || lines[valueStart] == UInt8(ascii: "\t") {
            valueStart += 1
        }
        let value = lines[valueStart...]
        if value.starts(with: Array(tag.utf8)) { return lines }
        let startsWithEncodedWord = value.starts(with: Array("=?".utf8))
        var output = Array(lines[...colon])
        output += Array(" \(encodedTag(tag, beforeEncodedWord: startsWithEncodedWord, allowUTF8: allowUTF8))".utf8)
        if value.first != UInt8(ascii: "\r") {
            output.append(UInt8(ascii: " "))
        }
        output += value
        return output
    }

    /// The tag as it goes into the subject. ASCII stays as it is; otherwise an encoded-word,
    /// which takes the separating space inside when an encoded-word follows (white space
    /// between two encoded-words is not displayed, RFC 2047 §6.2).
    private static func encodedTag(_ tag: String, beforeEncodedWord: Bool, allowUTF8: Bool) -> String {
        if tag.unicodeScalars.allSatisfy(\.isPrintableASCII) || allowUTF8 { return tag }
        return NoticeMessage.unstructured(beforeEncodedWord ? tag + " " : tag)
    }

    /// Unstructured text for a header value: as it is when ASCII or allowed, else encoded-words.
    static func encodedText(_ text: String, allowUTF8: Bool) -> String {
        allowUTF8 ? text : NoticeMessage.unstructured(text)
    }
}
