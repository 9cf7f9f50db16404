import FilterCore
import FilterProcessors

/// Flags mail whose subject is shouted: at least `min_letters` letters, all of them capitals.
///
/// ```yaml
/// - type: shouting-subject
///   min_letters: 8      # shorter subjects ("OK", "RE: FYI") are left alone; default 8
///   action: spam        # or continue: only tag and score; default spam
///   score: 3            # added to the verdict's score; default 3
/// ```
struct ShoutingSubject: ConfigurableProcessor {
    static let type = "shouting-subject"
    static let optionKeys: Set<String> = ["min_letters", "action", "score"]

    struct Options: Decodable {
        var minLetters: Int?
        var action: String?
        var score: Double?

        enum CodingKeys: String, CodingKey {
            case minLetters = "min_letters", action, score
        }
    }

    let name: String
    private let minLetters: Int
    private let action: FilterAction?
    private let score: Double

    init(name: String, options: Options) throws(ProcessorConfigurationError) {
        self.name = name
        minLetters = options.minLetters ?? 8
        guard minLetters >= 1 else { throw ProcessorConfigurationError("\(name).min_letters: must be at least 1") }
        switch options.action?.lowercased() ?? "spam" {
        case "continue":
            action = nil
        case let text:
            let action = FilterAction(rawValue: text)
            guard FilterAction.allKnown.contains(action) else {
                throw ProcessorConfigurationError("\(name).action: \"\(text)\" is neither continue nor an action")
            }
            self.action = action
        }
        score = options.score ?? 3
    }

    func process(_ request: ProcessorRequest, verdict: Verdict) async throws -> ProcessorOutcome {
        let letters = (request.message.subject ?? "").filter(\.isLetter)
        guard letters.count >= minLetters, letters.allSatisfy(\.isUppercase) else { return .continue(verdict) }
        var verdict = verdict
        verdict.addScore(score)
        verdict.addTag("shouting-subject")
        guard let action else { return .continue(verdict) }
        return .decide(Decision(action, reason: "the subject is shouted"), verdict: verdict)
    }
}
