import Foundation

/// The filter's own identifier of one accepted message, as in `250 2.0.0 Ok: queued as ID`.
///
/// It is also the name of the message's files in the spool, so it only ever contains
/// `[0-9A-Za-z]`: 9 characters of time (microseconds since 1970, base 62) followed by 6 random
/// ones, so ids sort by arrival and never collide in practice.
public struct QueueID: RawRepresentable, Hashable, Comparable, Sendable, Codable, CustomStringConvertible {
    public let rawValue: String

    /// Accepts only the spool-safe alphabet, so a queue id read from a file name or a command
    /// line can never name a path outside the spool.
    public init?(rawValue: String) {
        guard !rawValue.isEmpty, rawValue.utf8.count <= 64,
            rawValue.utf8.allSatisfy({ Self.alphabet.contains($0) })
        else { return nil }
        self.rawValue = rawValue
    }

    /// Makes a new id for a message received at `date`.
    public static func generate(at date: Date = Date()) -> QueueID {
        var generator = SystemRandomNumberGenerator()
        return generate(at: date, using: &generator)
    }

    /// Makes a new id with the given random source (for tests).
    public static func generate(at date: Date, using generator: inout some RandomNumberGenerator) -> QueueID {
        var micros = UInt64(max(0, date.timeIntervalSince1970 * 1_000_000))
        var timePart = [UInt8](repeating: alphabet[0], count: 9)
        for index in stride(from: 8, through: 0, by: -1) {
            timePart[index] = alphabet[Int(micros % 62)]
            micros /= 62
        }
        // One draw gives all six random characters (62^6 < 2^36): on Linux each draw from the
        // system generator is a getrandom(2) system call.
        var random = generator.next()
        let randomPart = (0..<6).map { _ in
            defer { random /= 62 }
            return alphabet[Int(random % 62)]
        }
        return QueueID(rawValue: String(decoding: timePart + randomPart, as: UTF8.self))!
    }

    public static func < (lhs: QueueID, rhs: QueueID) -> Bool { lhs.rawValue < rhs.rawValue }

    public var description: String { rawValue }

    private static let alphabet = Array("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz".utf8)
}
