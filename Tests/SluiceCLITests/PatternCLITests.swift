import EventPattern
import Foundation
import Testing

/// Every case of the EventBridge pattern corpus, through `sluice pattern test`: `true`/`false` with exit 0,
/// or exit 2 with a message for a pattern that must be rejected.
@Suite("sluice pattern test over the corpus", .enabled(if: SluiceBinary.available && Corpus.enabled, "needs the sluice binary and the corpus"))
struct PatternCLITests {
    struct Case {
        var id: String
        var pattern: String
        var event: String?
        var expectedMatch: Bool?
        var expectedValid: Bool?
    }

    static func cases() throws -> [Case] {
        let root = try #require(Corpus.root, "corpus not found").appendingPathComponent("event-patterns")
        func load(_ name: String) throws -> [JSONValue] {
            let bytes = Array(try Data(contentsOf: root.appendingPathComponent(name)))
            return try #require(try JSONValue.parse(bytes, maxDepth: 512).arrayValue, "\(name) is not an array")
        }
        var out: [Case] = []
        for file in ["cases-transcribed.json", "cases-s3-engine-computed.json"] {
            for c in try load(file) {
                let pattern = c["pattern_json"]?.stringValue ?? c["pattern"]?.serialized() ?? "{}"
                out.append(Case(
                    id: c["id"]?.stringValue ?? "?", pattern: pattern, event: c["event"]?.serialized(),
                    expectedMatch: c["expected_match"]?.boolValue, expectedValid: c["expected_pattern_valid"]?.boolValue
                ))
            }
        }
        for (file, valid) in [("orRelationshipRules.json", true), ("wrongOrRelationshipRules.json", false), ("normalRulesWithOrWording.json", false)] {
            for (i, rule) in try load("upstream/\(file)").enumerated() {
                out.append(Case(id: "\(file)#\(i)", pattern: rule.serialized(), event: nil, expectedMatch: nil, expectedValid: valid))
            }
        }
        let correctness = try load("upstream/correctness-cases.json")
        let results = try load("correctness-cases.engine-results.json")
        for (c, r) in zip(correctness, results) {
            let name = c["name"]?.stringValue ?? "?"
            guard r["name"]?.stringValue == name, let match = r["expected_match"]?.boolValue else { continue }
            out.append(Case(id: "correctness/\(name)", pattern: c["rule"]?.serialized() ?? "{}", event: c["event"]?.serialized(), expectedMatch: match, expectedValid: nil))
        }
        return out
    }

    @Test func everyCorpusCase() throws {
        let binary = try #require(SluiceBinary.path)
        let dir = try temporaryDirectory("patterns")
        defer { try? FileManager.default.removeItem(at: dir) }
        let cases = try Self.cases()
        #expect(cases.count >= 200, "expected the whole corpus, found \(cases.count) cases")
        var failures: [String] = []
        for c in cases {
            let patternFile = dir.appendingPathComponent("pattern.json")
            let eventFile = dir.appendingPathComponent("event.json")
            try Data(c.pattern.utf8).write(to: patternFile)
            try Data((c.event ?? "{}").utf8).write(to: eventFile)
            let result = try run(binary, ["pattern", "test", patternFile.path, eventFile.path])
            if c.expectedValid == false {
                if result.status != 2 || result.stderr.isEmpty { failures.append("\(c.id): invalid pattern accepted (exit \(result.status))") }
                continue
            }
            if c.expectedValid == true, c.event == nil {
                if result.status != 0 { failures.append("\(c.id): valid pattern refused: \(result.stderr)") }
                continue
            }
            guard let expected = c.expectedMatch else { continue }
            let output = result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
            if result.status != 0 || output != (expected ? "true" : "false") {
                failures.append("\(c.id): expected \(expected), got exit \(result.status) \(output) \(result.stderr)")
            }
        }
        #expect(failures.isEmpty, "\(failures.count) failing cases:\n\(failures.prefix(20).joined(separator: "\n"))")
    }

    @Test func invalidEventFileExitsTwo() throws {
        let binary = try #require(SluiceBinary.path)
        let dir = try temporaryDirectory("patterns")
        defer { try? FileManager.default.removeItem(at: dir) }
        try Data("{\"source\":[\"aws.s3\"]}".utf8).write(to: dir.appendingPathComponent("p.json"))
        try Data("{not json".utf8).write(to: dir.appendingPathComponent("e.json"))
        let result = try run(binary, ["pattern", "test", dir.appendingPathComponent("p.json").path, dir.appendingPathComponent("e.json").path])
        #expect(result.status == 2)
        #expect(result.stderr.contains("invalid event"))
        let missing = try run(binary, ["pattern", "test", dir.appendingPathComponent("p.json").path, "/nonexistent.json"])
        #expect(missing.status == 2)
    }
}
