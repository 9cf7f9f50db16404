import FilterCore
import Foundation

/// The corpus of tricky messages in `Fixtures/` (see `docs/mime.md`, "Test corpus").
enum MIMEFixtures {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")

    static func bytes(_ name: String) throws -> [UInt8] {
        Array(try Data(contentsOf: directory.appendingPathComponent(name)))
    }

    static func message(_ name: String) throws -> MIMEMessage {
        MIMEMessage(bytes: try bytes(name))
    }
}

extension MIMEMessage {
    /// Creates a view of a message written as text with LF line ends, converted to CRLF.
    convenience init(crlf text: String) {
        self.init(bytes: Array(text.replacingOccurrences(of: "\n", with: "\r\n").utf8))
    }

    /// The part at a path (`"2.1"`), for assertions.
    func part(_ path: String) -> MIMEPart? {
        root.flattened.first { $0.path == path }
    }

    /// The defect codes, in order.
    var defectCodes: [MIMEDefect.Code] { defects.map(\.code) }
}
