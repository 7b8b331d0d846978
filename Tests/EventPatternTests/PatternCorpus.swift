import EventPattern
import Foundation
import Testing

/// Finds the event-pattern corpus: `$SLUICE_CORPUS/event-patterns`, else
/// `<package root>/../shared/corpus/event-patterns`. Every file is read with ``JSONValue/parse(_:maxDepth:)``,
/// so the corpus exercises the parser too.
enum PatternCorpus {
    static let root: URL = {
        if let path = ProcessInfo.processInfo.environment["SLUICE_CORPUS"], !path.isEmpty {
            return URL(fileURLWithPath: path).appendingPathComponent("event-patterns")
        }
        // <root>/Tests/EventPatternTests/PatternCorpus.swift, with symlinks resolved so that a
        // development package linking this directory finds the corpus beside the real package.
        let file = URL(fileURLWithPath: #filePath).resolvingSymlinksInPath()
        let packageRoot = file.deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        return packageRoot.deletingLastPathComponent().appendingPathComponent("shared/corpus/event-patterns")
    }()

    static var rootPath: String { root.path }

    static var isAvailable: Bool {
        FileManager.default.fileExists(atPath: root.appendingPathComponent("README.md").path)
    }

    static var isRequired: Bool {
        ProcessInfo.processInfo.environment["SLUICE_REQUIRE_CORPUS"] == "1"
    }

    /// Enabled when the corpus is present, or when it is required (so that its absence fails).
    static var shouldRun: Bool { isAvailable || isRequired }

    static func bytes(_ relative: String) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: root.appendingPathComponent(relative)))
    }

    static func json(_ relative: String) throws -> JSONValue {
        try JSONValue.parse(try bytes(relative), maxDepth: 128)
    }

    /// The cases of a `cases-*.json` file; empty when the corpus is absent or unreadable (the
    /// presence test then reports it).
    static func cases(_ file: String) -> [PatternCase] {
        guard isAvailable, let document = try? json(file), let elements = document.arrayValue else { return [] }
        return elements.map { PatternCase(file: file, json: $0) }
    }

    /// `upstream/correctness-cases.json` joined with the engine's results, by position and name.
    static func correctnessCases() -> [CorrectnessCase] {
        guard isAvailable,
            let cases = try? json("upstream/correctness-cases.json").arrayValue,
            let results = try? json("correctness-cases.engine-results.json").arrayValue
        else { return [] }
        return zip(cases, results).map { item, result in
            CorrectnessCase(
                name: item["name"]?.stringValue ?? "?",
                resultName: result["name"]?.stringValue ?? "?",
                rule: item["rule"] ?? .null,
                event: item["event"] ?? .null,
                expectedMatch: result["expected_match"]?.boolValue
            )
        }
    }

    /// Every rule of an upstream array-of-rules file, as `(file, index)`.
    static func ruleFileEntries(_ file: String) -> [RuleFileEntry] {
        guard isAvailable, let rules = try? json("upstream/\(file)").arrayValue else { return [] }
        return rules.indices.map { RuleFileEntry(file: file, index: $0, rule: rules[$0]) }
    }
}

/// One case of `cases-transcribed.json` or `cases-s3-engine-computed.json`.
struct PatternCase: Sendable, CustomTestStringConvertible {
    let file: String
    let json: JSONValue

    var id: String { json["id"]?.stringValue ?? "<no id>" }
    var testDescription: String { id }
}

struct CorrectnessCase: Sendable, CustomTestStringConvertible {
    let name: String
    let resultName: String
    let rule: JSONValue
    let event: JSONValue
    let expectedMatch: Bool?

    var testDescription: String { name }
}

struct RuleFileEntry: Sendable, CustomTestStringConvertible {
    let file: String
    let index: Int
    let rule: JSONValue

    var testDescription: String { "\(file)[\(index)]" }
}
