import Foundation

// Placeholder until the wire codec lands (branch `memory`); replaced at merge.
public enum WireJSON {
    public static func encodeMetadata(_ metadata: FilterRequestMetadata) throws -> String {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        return String(decoding: try encoder.encode(metadata), as: UTF8.self)
    }
    public static func decodeMetadata(_ bytes: [UInt8]) throws -> FilterRequestMetadata {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return try decoder.decode(FilterRequestMetadata.self, from: Data(bytes))
    }
    public static func encodeReply(_ reply: FilterReply) throws -> [UInt8] {
        Array(try JSONEncoder().encode(reply))
    }
    public static func decodeReply(_ bytes: [UInt8]) throws(WireProtocolError) -> FilterReply {
        do { return try JSONDecoder().decode(FilterReply.self, from: Data(bytes)) } catch { throw WireProtocolError(.malformedJSON, "\(error)") }
    }
}
public struct WireProtocolError: Error {
    public struct Code: Hashable, Sendable { let raw: String; public static let malformedJSON = Code(raw: "m"); public static let unknownAction = Code(raw: "u") }
    public var code: Code
    public var message: String
    public init(_ code: Code, _ message: String) { self.code = code; self.message = message }
}
