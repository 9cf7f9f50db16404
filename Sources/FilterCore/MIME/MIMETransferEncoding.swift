/// Content-Transfer-Encoding decoders (RFC 2045 §6), tolerant of what real mailers send.
enum MIMETransferEncoding {
    /// Decodes `body` according to `encoding` (lowercased, or `nil` for none), reporting what
    /// was wrong with it.
    static func decode(_ body: ArraySlice<UInt8>, encoding: String?, defects: inout [MIMEDefect], part: String) -> [UInt8] {
        switch encoding {
        case nil, "7bit", "8bit", "binary":
            return Array(body)
        case "base64":
            return base64(body, defects: &defects, part: part)
        case "quoted-printable":
            return quotedPrintable(body, defects: &defects, part: part)
        case let other?:
            defects.append(MIMEDefect(.unknownTransferEncoding, "Content-Transfer-Encoding \(other) is unknown; body taken as it is", part: part))
            return Array(body)
        }
    }

    private static let base64Values: [UInt8] = {
        var table = [UInt8](repeating: 0xFF, count: 256)
        for (index, byte) in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8.enumerated() {
            table[Int(byte)] = UInt8(index)
        }
        return table
    }()

    /// What was wrong with a base64 text.
    struct Base64Problems {
        /// Bytes outside the alphabet (and not whitespace), skipped.
        var invalidBytes = 0
        /// The last quantum had 2 or 3 characters and no `=` padding.
        var unpadded = false
        /// A quantum had a single character (6 bits, no whole byte), dropped.
        var dangling = false
    }

    /// Base64 (RFC 2045 §6.8) as reported in a part's defects; see ``base64(_:problems:)``.
    static func base64(_ body: ArraySlice<UInt8>, defects: inout [MIMEDefect], part: String) -> [UInt8] {
        var problems = Base64Problems()
        let output = base64(body, problems: &problems)
        if problems.invalidBytes > 0 {
            defects.append(MIMEDefect(.invalidBase64, "\(problems.invalidBytes) byte(s) outside the base64 alphabet skipped", part: part))
        }
        if problems.dangling {
            defects.append(MIMEDefect(.invalidBase64, "a final single base64 character (6 bits) dropped", part: part))
        } else if problems.unpadded {
            defects.append(MIMEDefect(.invalidBase64, "base64 padding missing", part: part))
        }
        return output
    }

    /// Base64: whitespace is skipped; other characters outside the alphabet are skipped and
    /// counted; a missing `=` padding is tolerated; `=` ends a quantum, so concatenated base64
    /// runs decode too.
    static func base64(_ body: ArraySlice<UInt8>, problems: inout Base64Problems) -> [UInt8] {
        var invalid = 0
        var dangling = false
        var unpadded = false
        let output = [UInt8](unsafeUninitializedCapacity: body.count / 4 * 3 + 3) { buffer, written in
            var quantum: UInt32 = 0
            var count = 0
            var position = 0
            base64Values.withUnsafeBufferPointer { table in
                body.withUnsafeBufferPointer { input in
                    for byte in input {
                        let value = table[Int(byte)]
                        if value != 0xFF {
                            quantum = quantum << 6 | UInt32(value)
                            count += 1
                            if count == 4 {
                                buffer[position] = UInt8(truncatingIfNeeded: quantum >> 16)
                                buffer[position + 1] = UInt8(truncatingIfNeeded: quantum >> 8)
                                buffer[position + 2] = UInt8(truncatingIfNeeded: quantum)
                                position += 3
                                quantum = 0
                                count = 0
                            }
                            continue
                        }
                        if byte == UInt8(ascii: "=") {
                            position = Self.flush(quantum, count: count, into: buffer, at: position, dangling: &dangling)
                            quantum = 0
                            count = 0
                        } else if !isWhitespace(byte) {
                            invalid += 1
                        }
                    }
                }
            }
            unpadded = count > 1
            written = Self.flush(quantum, count: count, into: buffer, at: position, dangling: &dangling)
        }
        problems.invalidBytes = invalid
        problems.unpadded = unpadded
        problems.dangling = dangling
        return output
    }

    /// Writes the whole bytes of a partial quantum of `count` characters; returns the new position.
    private static func flush(
        _ quantum: UInt32, count: Int, into buffer: UnsafeMutableBufferPointer<UInt8>, at position: Int, dangling: inout Bool
    ) -> Int {
        switch count {
        case 2:
            buffer[position] = UInt8(truncatingIfNeeded: quantum >> 4)
            return position + 1
        case 3:
            buffer[position] = UInt8(truncatingIfNeeded: quantum >> 10)
            buffer[position + 1] = UInt8(truncatingIfNeeded: quantum >> 2)
            return position + 2
        case 1:
            dangling = true
            return position
        default:
            return position
        }
    }

    /// Quoted-printable (RFC 2045 §6.7): `=XX` (either case), soft line breaks `=` CRLF or `=` LF
    /// (also with whitespace between `=` and the line end), trailing whitespace on a line dropped;
    /// an `=` not followed by two hex digits is kept as written, with a defect.
    static func quotedPrintable(_ body: ArraySlice<UInt8>, defects: inout [MIMEDefect], part: String) -> [UInt8] {
        var invalid = 0
        let output = [UInt8](unsafeUninitializedCapacity: body.count) { buffer, written in
            var position = 0
            body.withUnsafeBufferPointer { input in
                var index = 0
                let end = input.count
                while index < end {
                    let byte = input[index]
                    switch byte {
                    case UInt8(ascii: "="):
                        if index + 2 < end, let high = hexValue(input[index + 1]), let low = hexValue(input[index + 2]) {
                            buffer[position] = high << 4 | low
                            position += 1
                            index += 3
                            continue
                        }
                        var next = index + 1
                        while next < end, input[next] == UInt8(ascii: " ") || input[next] == UInt8(ascii: "\t") { next += 1 }
                        if next == end {
                            index = end
                        } else if input[next] == UInt8(ascii: "\n") {
                            index = next + 1
                        } else if input[next] == UInt8(ascii: "\r") {
                            index = next + 1 < end && input[next + 1] == UInt8(ascii: "\n") ? next + 2 : next + 1
                        } else {
                            invalid += 1
                            buffer[position] = byte
                            position += 1
                            index += 1
                        }
                    case UInt8(ascii: " "), UInt8(ascii: "\t"):
                        var next = index + 1
                        while next < end, input[next] == UInt8(ascii: " ") || input[next] == UInt8(ascii: "\t") { next += 1 }
                        if next < end, input[next] != UInt8(ascii: "\r"), input[next] != UInt8(ascii: "\n") {
                            for whitespace in index..<next {
                                buffer[position] = input[whitespace]
                                position += 1
                            }
                        }
                        index = next
                    default:
                        buffer[position] = byte
                        position += 1
                        index += 1
                    }
                }
            }
            written = position
        }
        if invalid > 0 {
            defects.append(MIMEDefect(.invalidQuotedPrintable, "\(invalid) '=' not followed by two hex digits kept as written", part: part))
        }
        return output
    }

    static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        default: nil
        }
    }

    static func isWhitespace(_ byte: UInt8) -> Bool {
        byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") || byte == UInt8(ascii: "\r") || byte == UInt8(ascii: "\n")
    }
}
