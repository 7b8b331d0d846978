import EventPattern
import Testing

@Suite("Event-pattern corpus (aws/event-ruler)", .enabled(if: PatternCorpus.shouldRun, "corpus not found; set SLUICE_CORPUS"))
struct PatternCorpusTests {
    @Test("the corpus is present and every file parses")
    func corpusPresent() throws {
        #expect(PatternCorpus.isAvailable, "event-pattern corpus missing at \(PatternCorpus.rootPath)")
        // The parameterised tests take their cases from these listings; an empty or short listing
        // would make them pass vacuously.
        #expect(PatternCorpus.cases("cases-transcribed.json").count == 163)
        #expect(PatternCorpus.cases("cases-s3-engine-computed.json").count == 44)
        #expect(PatternCorpus.correctnessCases().count == 51)
        #expect(PatternCorpus.ruleFileEntries("orRelationshipRules.json").count == 5)
        #expect(PatternCorpus.ruleFileEntries("wrongOrRelationshipRules.json").count == 2)
        #expect(PatternCorpus.ruleFileEntries("normalRulesWithOrWording.json").count == 4)
        for number in 1...4 {
            _ = try PatternCorpus.json("upstream/arrayRule\(number).json")
            _ = try PatternCorpus.json("upstream/arrayEvent\(number).json")
        }
    }

    @Test("transcribed case", arguments: PatternCorpus.cases("cases-transcribed.json"))
    func transcribedCase(_ testCase: PatternCase) throws {
        try check(testCase)
    }

    @Test("S3 case computed with the engine", arguments: PatternCorpus.cases("cases-s3-engine-computed.json"))
    func s3Case(_ testCase: PatternCase) throws {
        try check(testCase)
    }

    private func check(_ testCase: PatternCase) throws {
        let id = testCase.id
        if let text = testCase.json["pattern_json"]?.stringValue {
            let expectedValid = try #require(testCase.json["expected_pattern_valid"]?.boolValue as Bool?, "\(id): no expected_pattern_valid")
            do {
                let pattern = try EventPattern(jsonText: text)
                #expect(expectedValid, "\(id): accepted an invalid pattern \(text) (compiled to \(pattern.alternativeCount) alternative(s))")
            } catch {
                #expect(!expectedValid, "\(id): refused a valid pattern \(text): \(error)")
            }
            return
        }
        let patternJSON = try #require(testCase.json["pattern"], "\(id): no pattern")
        let event = try #require(testCase.json["event"], "\(id): no event")
        let expected = try #require(testCase.json["expected_match"]?.boolValue as Bool?, "\(id): no expected_match")
        let pattern: EventPattern
        do {
            pattern = try EventPattern(json: patternJSON)
        } catch {
            Issue.record("\(id): refused a valid pattern: \(error)")
            return
        }
        #expect(
            pattern.matches(event) == expected,
            "\(id): expected \(expected ? "a match" : "no match") of \(patternJSON) against \(event)"
        )
    }

    @Test("upstream correctness case", arguments: PatternCorpus.correctnessCases())
    func correctnessCase(_ testCase: CorrectnessCase) throws {
        #expect(testCase.name == testCase.resultName, "results file out of step with the cases at \(testCase.name)")
        let expected = try #require(testCase.expectedMatch as Bool?, "\(testCase.name): no engine result")
        let pattern = try EventPattern(json: testCase.rule)
        #expect(
            pattern.matches(testCase.event) == expected,
            "\(testCase.name): expected \(expected ? "a match" : "no match") of \(testCase.rule) against \(testCase.event)"
        )
    }

    @Test("orRelationshipRules.json: every rule is valid", arguments: PatternCorpus.ruleFileEntries("orRelationshipRules.json"))
    func validOrRule(_ entry: RuleFileEntry) {
        #expect(throws: Never.self, "\(entry.testDescription) must be accepted") { try EventPattern(json: entry.rule) }
    }

    @Test(
        "wrongOrRelationshipRules.json and normalRulesWithOrWording.json: every rule is refused",
        arguments: PatternCorpus.ruleFileEntries("wrongOrRelationshipRules.json")
            + PatternCorpus.ruleFileEntries("normalRulesWithOrWording.json")
    )
    func invalidOrRule(_ entry: RuleFileEntry) {
        #expect(throws: EventPatternError.self, "\(entry.testDescription) must be refused") { try EventPattern(json: entry.rule) }
    }

    /// `GenericMachineTest.nestedArraysTest` asserts, with array consistency on: event 1 matches rules
    /// 1 and 2, event 2 matches none, event 3 matches none, event 4 matches rule 3. Rule 4 has no
    /// upstream assertion; its expectations follow from the same semantics (its two fields must hold
    /// in one element of the top-level `metrics` array, which only events 3 and 4 have).
    static let nestedArrayExpectations: [NestedArrayCase] = [
        (1, 1, true), (1, 2, false), (1, 3, false), (1, 4, false),
        (2, 1, true), (2, 2, false), (2, 3, false), (2, 4, false),
        (3, 1, false), (3, 2, false), (3, 3, false), (3, 4, true),
        (4, 1, false), (4, 2, false), (4, 3, true), (4, 4, true),
    ].map { NestedArrayCase(rule: $0.0, event: $0.1, expected: $0.2) }

    @Test("arrayRule × arrayEvent (nested arrays)", arguments: nestedArrayExpectations)
    func nestedArrays(_ testCase: NestedArrayCase) throws {
        let rule = try PatternCorpus.json("upstream/arrayRule\(testCase.rule).json")
        let event = try PatternCorpus.json("upstream/arrayEvent\(testCase.event).json")
        let pattern = try EventPattern(json: rule)
        #expect(pattern.matches(event) == testCase.expected)
    }
}

struct NestedArrayCase: Sendable, CustomTestStringConvertible {
    let rule: Int
    let event: Int
    let expected: Bool

    var testDescription: String { "arrayRule\(rule) × arrayEvent\(event) → \(expected)" }
}
