import FilterCore
import Foundation
import Testing

/// `filterctl inspect` run as an operator runs it, on the MIME test corpus.
@Suite("filterctl inspect", .enabled(if: Repository.integrationEnabled))
struct FilterctlInspectTests {
    static let fixtures = Repository.root.appendingPathComponent("Tests/FilterCoreTests/MIME/Fixtures")

    private func inspect(_ arguments: [String], standardInput: Data? = nil) async throws -> MIMEInspection {
        let result = try await ProcessRunner.run(
            try BuiltProducts.path("filterctl"), ["inspect"] + arguments, standardInput: standardInput
        ).requireSuccess()
        return try JSONDecoder().decode(MIMEInspection.self, from: Data(result.standardOutput.utf8))
    }

    @Test func printsTheViewOfAFile() async throws {
        let inspection = try await inspect([Self.fixtures.appendingPathComponent("nested.eml").path])
        #expect(inspection.subject == "Quarterly report")
        #expect(inspection.from.map(\.displayName) == ["Jörg Müller"])
        #expect(inspection.structure.children?.map(\.contentType) == ["multipart/alternative", "application/pdf", "message/rfc822"])
        #expect(inspection.structure.children?[1].filename == "Bericht für Q3.pdf")
        #expect(inspection.structure.children?[1].decodedSize == 1024)
        #expect(inspection.textBody == "Grüße aus Köln. This line is long and gets a soft break here.")
        #expect(inspection.attachments == ["2", "3", "3.1.2"])
        #expect(inspection.defects.isEmpty)
    }

    @Test func readsStandardInputAndReportsDefects() async throws {
        let bytes = try Data(contentsOf: Self.fixtures.appendingPathComponent("unclosed-boundary.eml"))
        let inspection = try await inspect(["-"], standardInput: bytes)
        #expect(inspection.size == bytes.count)
        #expect(inspection.defects.map(\.code) == ["missing-closing-boundary"])
    }

    @Test func missingFileFails() async throws {
        let result = try await ProcessRunner.run(try BuiltProducts.path("filterctl"), ["inspect", "/nonexistent/message.eml"])
        #expect(result.exitStatus == 1)
        #expect(result.standardError.contains("cannot read /nonexistent/message.eml"))
    }
}
