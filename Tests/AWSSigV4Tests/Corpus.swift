import Foundation
import Testing

/// Finds the third-party SigV4 vectors: `SLUICE_CORPUS`, else `<package root>/../shared/corpus`.
enum Corpus {
    static let root: URL = {
        if let path = ProcessInfo.processInfo.environment["SLUICE_CORPUS"], !path.isEmpty {
            return URL(fileURLWithPath: path)
        }
        // <root>/Tests/AWSSigV4Tests/Corpus.swift; symlinks resolved so a development package
        // that links this directory still finds the corpus beside the real package.
        let file = URL(fileURLWithPath: #filePath).resolvingSymlinksInPath()
        let packageRoot = file.deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        return packageRoot.deletingLastPathComponent().appendingPathComponent("shared/corpus")
    }()

    static let sigv4 = root.appendingPathComponent("sigv4")

    static var isAvailable: Bool {
        FileManager.default.fileExists(atPath: sigv4.appendingPathComponent("README.md").path)
    }

    static var isRequired: Bool {
        ProcessInfo.processInfo.environment["SLUICE_REQUIRE_CORPUS"] == "1"
    }

    /// Enabled when the corpus is present, or when it is required (so that its absence fails).
    static var shouldRun: Bool { isAvailable || isRequired }

    static func directories(in relative: String) -> [String] {
        let url = sigv4.appendingPathComponent(relative)
        let names = (try? FileManager.default.contentsOfDirectory(atPath: url.path)) ?? []
        return names.filter { name in
            var isDirectory: ObjCBool = false
            return FileManager.default.fileExists(atPath: url.appendingPathComponent(name).path, isDirectory: &isDirectory)
                && isDirectory.boolValue
        }.sorted()
    }

    static func read(_ relative: String) throws -> String {
        let url = sigv4.appendingPathComponent(relative)
        let data = try Data(contentsOf: url)
        return String(decoding: data, as: UTF8.self)
    }

    static func readJSON(_ relative: String) throws -> Any {
        try JSONSerialization.jsonObject(with: Data(contentsOf: sigv4.appendingPathComponent(relative)))
    }
}

@Suite("SigV4 corpus presence")
struct CorpusPresenceTests {
    @Test("the corpus is present when SLUICE_REQUIRE_CORPUS=1", .enabled(if: Corpus.shouldRun, "corpus not found; set SLUICE_CORPUS"))
    func corpusPresent() {
        #expect(Corpus.isAvailable, "SigV4 corpus missing at \(Corpus.sigv4.path)")
        // The parameterised suites take their cases from these listings; an empty listing would
        // make them pass vacuously.
        #expect(Corpus.directories(in: "aws-sig-v4-test-suite").count == 24 + 2)
        #expect(Corpus.directories(in: "aws-sig-v4-test-suite/normalize-path").count == 8)
        #expect(Corpus.directories(in: "aws-sig-v4-test-suite/post-sts-token").count == 2)
        #expect(Corpus.directories(in: "aws-c-auth-v4").count == 38)
    }
}
