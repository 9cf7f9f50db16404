import Foundation
import Testing
import Yams

@Suite struct SendAPIOpenAPITests {
    static let documentFile = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("docs/openapi/send-api.yaml")

    @Test func theServedDocumentIsTheDocsFileAndValidYAML() async throws {
        let expected = try String(contentsOf: Self.documentFile, encoding: .utf8)
        try await withWebServer(features: [try SendAPIFixture.feature(port: 1)]) { client in
            let response = try await client.get("/api/v1/openapi.yaml")
            #expect(response.status == 200)
            #expect(response.headers["content-type"]?.hasPrefix("application/yaml") == true)
            #expect(response.text == expected)
            let document = try #require(try Yams.load(yaml: response.text) as? [String: Any])
            #expect(document["openapi"] as? String == "3.1.0")
            let paths = try #require(document["paths"] as? [String: Any])
            #expect(paths["/api/v1/messages"] != nil)
            let components = try #require(document["components"] as? [String: Any])
            let schemes = try #require(components["securitySchemes"] as? [String: Any])
            #expect(Set(schemes.keys) == ["apiKey", "jwt"])
            let schemas = try #require(components["schemas"] as? [String: Any])
            #expect(schemas["Problem"] != nil && schemas["MessageRequest"] != nil)
        }
    }
}
