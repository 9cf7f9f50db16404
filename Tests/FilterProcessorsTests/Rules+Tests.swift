import FilterCore
import Foundation
import Testing

@testable import FilterProcessors

@Suite struct RulesTests {
    let newsletter = """
        From: News <news@shop.example>
        To: alice@example.com
        Subject: =?UTF-8?Q?Gro=C3=9Fe_Rabatte?= newsletter
        List-Id: <offers.shop.example>
        MIME-Version: 1.0
        Content-Type: multipart/mixed; boundary=b

        --b
        Content-Type: text/plain; charset=utf-8
        Content-Transfer-Encoding: quoted-printable

        Buy v1agra now, click here
        --b
        Content-Type: application/octet-stream
        Content-Disposition: attachment; filename="INVOICE.EXE"
        Content-Transfer-Encoding: base64

        TVqQAAMAAAAEAAAA
        --b--

        """

    func rules(_ yaml: String) throws -> Rules {
        let decoder = JSONDecoder()
        let configuration = try decoder.decode(PipelineConfiguration.self, from: Data(yaml.utf8))
        return try #require(configuration.steps.first?.processor as? Rules)
    }

    func run(_ json: String, message: String? = nil) async throws -> ProcessorOutcome {
        try await rules(json).process(.fixture(message: message ?? newsletter), verdict: Verdict())
    }

    @Test func headerTestsSeeDecodedValues() async throws {
        let outcome = try await run(#"""
            [{"type": "rules", "rules": [
              {"name": "german", "if": {"header": "subject", "contains": "große rabatte"}, "then": {"tag": "german"}},
              {"name": "list", "if": {"header": "List-Id", "exists": true}, "then": {"tag": "list", "score": 1.5}},
              {"name": "nolist", "if": {"header": "List-Unsubscribe", "exists": true}, "then": {"tag": "unsub"}},
              {"name": "from", "if": {"header": "From", "matches": "news@shop\\.example"}, "then": {"score": 1}},
              {"name": "exact", "if": {"header": "To", "equals": "ALICE@example.com"}, "then": {"tag": "exact"}}
            ]}]
            """#)
        #expect(outcome.decision == nil)
        #expect(outcome.verdict.tags == ["german", "list", "exact"])
        #expect(outcome.verdict.score == 2.5)
    }

    @Test func bodyAttachmentAndSizeConditionsDecide() async throws {
        let body = try await run(#"""
            [{"type": "rules", "rules": [{"name": "pills", "if": {"body": {"matches": "v[i1]agra"}},
              "then": {"action": "spam", "score": 5, "add_headers": [{"name": "X-Rule", "value": "pills"}]}}]}]
            """#)
        #expect(body.decision == Decision(.spam, reason: "rule pills"))
        #expect(body.verdict.addHeaders == [.init(name: "X-Rule", value: "pills")])
        let exe = try await run(#"""
            [{"type": "rules", "rules": [{"name": "exe", "if": {"attachment": ["*.exe", "application/x-msdownload"]},
              "then": {"action": "quarantine", "reason": "executable attachment"}}]}]
            """#)
        #expect(exe.decision == Decision(.quarantine, reason: "executable attachment"))
        let types = try await run(#"""
            [{"type": "rules", "rules": [{"name": "bin", "if": {"attachment": ["application/*"]}, "then": {"tag": "binary"}}]}]
            """#)
        #expect(types.verdict.tags == ["binary"])
        let size = try await run(#"""
            [{"type": "rules", "rules": [
              {"name": "big", "if": {"size_over": 100000}, "then": {"tag": "big"}},
              {"name": "small", "if": {"size_under": 100000}, "then": {"tag": "small"}}]}]
            """#)
        #expect(size.verdict.tags == ["small"])
    }

    @Test func bodyTestsOfOneRunSeeTheTextAndTheHTMLBody() async throws {
        let alternative = """
            From: a@example.net
            Subject: two bodies
            MIME-Version: 1.0
            Content-Type: multipart/alternative; boundary=b

            --b
            Content-Type: text/plain; charset=utf-8

            Plain Words Only
            --b
            Content-Type: text/html; charset=utf-8

            <p>HTML Große Worte</p>
            --b--

            """
        let outcome = try await run(#"""
            [{"type": "rules", "rules": [
              {"name": "plain", "if": {"body": {"contains": "PLAIN words"}}, "then": {"tag": "plain"}},
              {"name": "html", "if": {"body": {"contains": "große worte"}}, "then": {"tag": "html"}},
              {"name": "regex", "if": {"body": {"matches": "GROSSE|Große"}}, "then": {"tag": "regex"}},
              {"name": "whole", "if": {"body": {"equals": "plain words only"}}, "then": {"tag": "whole"}},
              {"name": "absent", "if": {"body": {"contains": "neither"}}, "then": {"tag": "absent"}},
              {"name": "again", "if": {"body": {"contains": "<P>html"}}, "then": {"tag": "again"}}
            ]}]
            """#, message: alternative)
        #expect(outcome.verdict.tags == ["plain", "html", "regex", "whole", "again"])
    }

    @Test func allAnyAndNotCombine() async throws {
        let outcome = try await run(#"""
            [{"type": "rules", "rules": [
              {"name": "combo", "if": {"all": [
                 {"header": "List-Id", "exists": true},
                 {"any": [{"body": {"contains": "nothing like this"}}, {"body": {"contains": "CLICK HERE"}}]},
                 {"not": {"header": "X-Trusted", "exists": true}}]},
               "then": {"action": "deny"}}]}]
            """#)
        #expect(outcome.decision?.action == .deny)
        let plain = try await run(#"""
            [{"type": "rules", "rules": [{"name": "combo", "if": {"all": [{"header": "List-Id", "exists": true}, {"body": {"contains": "absent"}}]},
              "then": {"action": "deny"}}]}]
            """#)
        #expect(plain.decision == nil)
    }

    @Test func theFirstDecidingRuleWinsAfterEarlierAdditions() async throws {
        let outcome = try await run(#"""
            [{"type": "rules", "rules": [
              {"name": "one", "if": {"header": "List-Id", "exists": true}, "then": {"tag": "one"}},
              {"name": "two", "if": {"header": "List-Id", "exists": true}, "then": {"action": "pending", "retry_after": 60}},
              {"name": "three", "if": {"header": "List-Id", "exists": true}, "then": {"action": "deny"}}]}]
            """#)
        #expect(outcome.decision == Decision(.pending, reason: "rule two", retryAfter: 60))
        #expect(outcome.verdict.tags == ["one"])
    }

    @Test(arguments: [
        (#"{"name": "r", "if": {"header": "Subject", "contians": "x"}, "then": {"tag": "t"}}"#,
         #"pipeline entry 1: rule "r": unknown key contians; known here: contains, equals, exists, header, matches"#),
        (#"{"name": "r", "if": {"header": "Subject", "matches": "[broken"}, "then": {"tag": "t"}}"#, "is not a valid regular expression"),
        (#"{"name": "r", "if": {"header": "Subject", "contains": "x"}, "then": {}}"#,
         #"pipeline entry 1: rule "r": then: give an action, a tag, a score, add_headers or a subject_tag"#),
        (#"{"name": "r", "if": {"header": "Subject", "contains": "x"}, "then": {"action": "explode"}}"#, "then.action: \"explode\" is not an action"),
        (#"{"name": "r", "if": {"colour": "red"}, "then": {"tag": "t"}}"#, "if: a condition needs one of header, body"),
        (#"{"name": "r", "if": {"header": "Subject"}, "then": {"tag": "t"}}"#, "give exactly one of equals, contains, matches, exists"),
        (#"{"name": "r", "if": {"header": "Subject", "contains": "x"}, "then": {"action": "forward"}}"#, "forward needs addresses"),
    ])
    func mistakesAreRefusedAtLoadTime(rule: String, expected: String) {
        let json = #"[{"type": "rules", "rules": ["# + rule + "]}]"
        #expect(performing: { try rules(json) }, throws: { "\($0)".contains(expected) })
    }
}
