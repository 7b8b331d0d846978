import ClickHouse
import ClickHouseNative
import Foundation
import Parquet
import ParquetClickHouse
import Testing

/// The readable files of the third-party corpus (`SLUICE_CORPUS`, or `../shared/corpus` beside the package).
enum Corpus {
    static let environment = ProcessInfo.processInfo.environment
    static let root: URL = {
        if let path = environment["SLUICE_CORPUS"], !path.isEmpty { return URL(fileURLWithPath: path) }
        let package = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        return package.deletingLastPathComponent().appendingPathComponent("shared/corpus")
    }()
    static let directory = root.appendingPathComponent("parquet/data")
    static let required = environment["SLUICE_REQUIRE_CORPUS"] == "1"
    /// Files pyarrow could read (they have an `.expected.jsonl`).
    static let readable: [String] = {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        return names.filter { $0.hasSuffix(".parquet") && names.contains($0 + ".expected.jsonl") }.sorted()
    }()
    static let enabled = required || !readable.isEmpty
}

@Suite(
    "Corpus files through the transcoder and through 26.9's own Parquet import",
    .enabled(if: Servers.enabled && Corpus.enabled, "needs the corpus (SLUICE_CORPUS) and both servers"))
struct CorpusLiveTests {
    /// Every readable corpus file whose fields all have a ClickHouse type is loaded into two Memory tables of the same
    /// suggested types: one through the transcoder (Native), one by the server itself (`FORMAT Parquet`). Both must
    /// hold the same values, row by row.
    @Test func everyLoadableCorpusFileMatchesTheServersImport() async throws {
        #expect(!Corpus.readable.isEmpty, "corpus files at \(Corpus.directory.path)")
        let client = try Servers.client("26.9")
        let database = "sluice_test_\(UInt64.random(in: 0...UInt64.max) % 1_000_000_000_000)"
        try await client.execute("CREATE DATABASE \(database)")
        var compared: [String] = []
        var skipped: [String] = []
        for (number, name) in Corpus.readable.enumerated() {
            let path = Corpus.directory.appendingPathComponent(name).path
            guard let file = try? await ParquetFile.open(path: path) else {
                skipped.append("\(name): the reader refuses it")
                continue
            }
            var definitions: [String] = []
            for field in file.schema.root.children {
                guard let type = ClickHouseType.suggested(for: field) else { continue }
                definitions.append("\(quote(field.name)) \(type)")
            }
            guard !definitions.isEmpty, definitions.count == file.schema.root.children.count else {
                skipped.append("\(name): a field has no ClickHouse type")
                continue
            }
            let ours = TableName(database: database, table: "ours\(number)")
            let twin = TableName(database: database, table: "twin\(number)")
            for table in [ours, twin] {
                try await client.execute("CREATE TABLE \(table.sql) (\(definitions.joined(separator: ", "))) ENGINE = Memory")
            }
            let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
            do {
                try await client.insert("INSERT INTO \(twin.sql) FORMAT Parquet") { writer in try await writer.write(bytes) }
            } catch {
                skipped.append("\(name): the server's own import fails (\(error))")
                continue
            }
            _ = try await load(path: path, into: ours, client: client, options: .init(), blockRows: 1000, minimumBlocks: 0)
            let mine = try await client.query("SELECT * FROM \(ours.sql)", settings: ["max_threads": "1"])
            let theirs = try await client.query("SELECT * FROM \(twin.sql)", settings: ["max_threads": "1"])
            #expect(mine.count == theirs.count, "\(name): row count")
            for (row, (a, b)) in zip(mine, theirs).enumerated() where a != b {
                Issue.record("\(name) row \(row): ours \(a) server \(b)")
                break
            }
            compared.append(name)
        }
        #expect(compared.count >= 35, "compared \(compared.count) files; skipped: \(skipped)")
        try await client.execute("DROP DATABASE \(database)")
        try await client.shutdown()
    }

    func quote(_ name: String) -> String {
        "`" + name.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "`", with: "\\`") + "`"
    }
}
