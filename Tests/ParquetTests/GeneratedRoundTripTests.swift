import Foundation
import Parquet
import Testing

/// Files written by pyarrow through `scripts/gen-parquet-cases.py` (type x encoding x codec x
/// page version x null density x nesting), compared with pyarrow's own reading of them.
enum GeneratedCases {
    static let pyarrowAvailable: Bool = {
        guard FileManager.default.fileExists(atPath: script.path) else { return false }
        return (try? run(["python3", "-c", "import pyarrow"])) == 0
    }()

    static var required: Bool { ProcessInfo.processInfo.environment["SLUICE_REQUIRE_PYARROW"] == "1" }

    static let script = Corpus.packageRoot.appendingPathComponent("scripts/gen-parquet-cases.py")

    static func run(_ arguments: [String]) throws -> Int32 {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        return process.terminationStatus
    }

    /// Generates the cases once per test process into a temporary directory.
    static let directory: Result<URL, any Error> = {
        let dir = FileManager.default.temporaryDirectory
            .appendingPathComponent("sluice-parquet-cases-\(ProcessInfo.processInfo.processIdentifier)")
        do {
            let status = try run(["python3", script.path, dir.path])
            guard status == 0 else { throw ParquetError(.io, "the case generator exited with status \(status)") }
            return .success(dir)
        } catch {
            return .failure(error)
        }
    }()
}

@Suite("Generated round trips",
       .enabled(if: GeneratedCases.pyarrowAvailable || GeneratedCases.required, "python3 with pyarrow is not available"))
struct GeneratedRoundTripTests {
    @Test("every generated file decodes to pyarrow's reading of it")
    func roundTrips() async throws {
        let dir = try GeneratedCases.directory.get()
        defer { try? FileManager.default.removeItem(at: dir) }
        let files = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasSuffix(".parquet") }.sorted()
        #expect(files.count >= 60)
        var compared = 0
        var reused = ParquetColumnData()
        for name in files {
            let url = dir.appendingPathComponent(name)
            let bytes = [UInt8](try Data(contentsOf: url))
            let expectedURL = dir.appendingPathComponent(String(name.dropLast(".parquet".count)) + ".expected.jsonl")
            let expected = try parsedLines(String(decoding: try Data(contentsOf: expectedURL), as: UTF8.self))
            let got: [NSObject]
            do {
                got = try parsedLines(try await jsonLines(bytes))
            } catch {
                Issue.record("\(name): \(error)")
                continue
            }
            #expect(got.count == expected.count, "\(name)")
            if let row = zip(got, expected).enumerated().first(where: { !$0.element.0.isEqual($0.element.1) })?.offset {
                Issue.record("\(name) row \(row): got \(got[row]), expected \(expected[row])")
            }
            // Decoding into one reused value, file after file, gives what fresh reads give.
            let file = try ParquetFile.openSynchronously(bytes: bytes)
            for group in file.rowGroups.indices {
                for column in file.schema.columns.indices {
                    try file.readColumnSynchronously(rowGroup: group, column: column, into: &reused)
                    let fresh = try file.readColumnSynchronously(rowGroup: group, column: column)
                    #expect(sameColumnData(fresh, reused), "\(name) group \(group) column \(column)")
                }
            }
            // The async file source gives the same result as memory.
            if name.hasPrefix("nested_v2") {
                let file = try await ParquetFile.open(source: try ParquetFileSource(path: url.path))
                var out: [UInt8] = []
                try await writeJSONLines(file: file) { out.append(contentsOf: $0) }
                #expect(try parsedLines(String(decoding: out, as: UTF8.self)) == expected)
            }
            compared += 1
        }
        #expect(compared == files.count)
    }
}
