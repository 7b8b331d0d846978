import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import Testing

/// `sluice load` and `sluice parquet`, run as the built binary.
enum LoadServers {
    static let environment = ProcessInfo.processInfo.environment
    static let clickhouse: [String: String] = [
        "18.16": environment["SLUICE_TEST_CH18_URL"], "26.9": environment["SLUICE_TEST_CH26_URL"],
    ].compactMapValues { $0?.isEmpty == false ? $0 : nil }
    static let moto = environment["SLUICE_TEST_S3_ENDPOINT"].flatMap { $0.isEmpty ? nil : $0 }
    static let enabled = SluiceBinary.available && (environment["SLUICE_REQUIRE_SERVERS"] == "1" || (clickhouse.count == 2 && moto != nil))
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("SluiceLoaderTests/Fixtures")

    static func url(_ server: String) throws -> String { try #require(clickhouse[server], "no URL for ClickHouse \(server)") }

    /// Runs SQL on a server (the tests' own check, independent of Sluice).
    @discardableResult
    static func sql(_ server: String, _ statement: String) async throws -> String {
        let reply = try await http(HTTPClient.shared, .POST, try url(server), body: statement, headers: [])
        #expect(reply.status == 200, "\(statement): \(reply.body)")
        return reply.body
    }

    /// A fresh database with `events (id Int64, v Int64, s String, ds Date)`.
    static func database(_ server: String) async throws -> String {
        let name = "sluice_cli_\(UInt64.random(in: 0...UInt64.max) % 1_000_000_000_000)"
        try await sql(server, "CREATE DATABASE \(name)")
        try await sql(server, "CREATE TABLE \(name).events (id Int64, v Int64, s String, ds Date) ENGINE = MergeTree PARTITION BY ds ORDER BY id")
        return name
    }

    /// The variables `sluice load` reads: the server, moto as S3 with test credentials, no instance metadata.
    static func variables(_ server: String, _ extra: [String: String] = [:]) throws -> [String: String] {
        var variables = [
            "SLUICE_CLICKHOUSE_URL": try url(server), "SLUICE_S3_PATH_STYLE": "true", "AWS_ACCESS_KEY_ID": "AKIDMOTOTESTING01",
            "AWS_SECRET_ACCESS_KEY": "moto-secret-key", "AWS_REGION": "us-east-1", "AWS_EC2_METADATA_DISABLED": "true",
            "HOME": FileManager.default.temporaryDirectory.path,
        ]
        if let moto { variables["SLUICE_S3_ENDPOINT"] = moto }
        return variables.merging(extra) { $1 }
    }

    /// A copy of a fixture under `<dir>/ds=2025-09-10/`, so that its path carries a partition value.
    static func partitioned(_ fixture: String, in dir: URL) throws -> String {
        let folder = dir.appendingPathComponent("ds=2025-09-10")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let path = folder.appendingPathComponent(fixture).path
        try FileManager.default.copyItem(atPath: fixtures.appendingPathComponent(fixture).path, toPath: path)
        return path
    }
}

/// The JSON object a `sluice load` printed.
func summary(_ result: ProcessResult) -> [String: Any] {
    let line = result.stdout.split(separator: "\n").last.map(String.init) ?? ""
    return (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any] ?? [:]
}

@Suite("sluice load", .enabled(if: LoadServers.enabled, "needs the sluice binary, moto and both ClickHouse servers"), .serialized)
struct LoadCLITests {
    @Test(arguments: ["18.16", "26.9"])
    func aLocalFileLoadsAndTheSummaryIsJSON(server: String) async throws {
        let dir = try temporaryDirectory("load-file")
        defer { try? FileManager.default.removeItem(at: dir) }
        let database = try await LoadServers.database(server)
        let path = try LoadServers.partitioned("batch_1.parquet", in: dir)
        let binary = try #require(SluiceBinary.path)
        let result = try run(binary, ["load", "--file", path, "--table", "\(database).events"], environment: try LoadServers.variables(server))
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr.isEmpty, "quiet when standard error is not a terminal: \(result.stderr)")
        let json = summary(result)
        #expect(json["status"] as? String == "loaded")
        #expect(json["rows"] as? Int == 10)
        #expect(json["bytes"] as? Int == 1771)
        #expect(json["table"] as? String == "\(database).events")
        #expect((json["correlation_id"] as? String).flatMap(UUID.init(uuidString:)) != nil)
        #expect((json["duration_s"] as? Double).map { $0 > 0 && $0 < 120 } == true)
        let rows = try await LoadServers.sql(server, "SELECT count(), min(id), max(id), any(ds), sum(v) FROM \(database).events")
        #expect(rows == "10\t100\t109\t2025-09-10\t3135\n")
        try await LoadServers.sql(server, "DROP DATABASE \(database)")
    }

    /// Without `--table`, the key's domain names the table: `domains.market.database` here.
    @Test func anS3ObjectLoadsIntoTheTableOfItsDomain() async throws {
        let dir = try temporaryDirectory("load-s3")
        defer { try? FileManager.default.removeItem(at: dir) }
        let database = try await LoadServers.database("26.9")
        let moto = try #require(LoadServers.moto)
        let bucket = "sluice-cli-\(UInt32.random(in: 0...UInt32.max))"
        let key = "market/events/ds=2025-09-10/part-2.parquet"
        #expect(try await put(moto + "/" + bucket, []) == 200)
        let bytes = try [UInt8](Data(contentsOf: LoadServers.fixtures.appendingPathComponent("batch_2.parquet")))
        #expect(try await put("\(moto)/\(bucket)/\(key)", bytes) == 200)
        let config = dir.appendingPathComponent("sluice.yaml")
        try Data("""
            intake:
              domains: [market]
            domains:
              market:
                database: \(database)
            clickhouse:
              block_rows: 4
            """.utf8).write(to: config)
        let binary = try #require(SluiceBinary.path)
        let result = try run(binary, ["load", "s3://\(bucket)/\(key)", "--config", config.path], environment: try LoadServers.variables("26.9"))
        #expect(result.status == 0, "\(result.stdout) \(result.stderr)")
        let json = summary(result)
        #expect(json["status"] as? String == "loaded")
        #expect(json["table"] as? String == "\(database).events")
        #expect(json["rows"] as? Int == 10)
        #expect((json["version"] as? String)?.hasPrefix("e:") == true)
        #expect(try await LoadServers.sql("26.9", "SELECT count(), min(id), any(ds) FROM \(database).events") == "10\t200\t2025-09-10\n")
        try await LoadServers.sql("26.9", "DROP DATABASE \(database)")
    }

    /// With `journal.path` configured, the ledger remembers the file: the second load is a duplicate.
    @Test func aConfiguredJournalAnswersDuplicates() async throws {
        let dir = try temporaryDirectory("load-journal")
        defer { try? FileManager.default.removeItem(at: dir) }
        let database = try await LoadServers.database("26.9")
        let path = try LoadServers.partitioned("batch_3.parquet", in: dir)
        let config = dir.appendingPathComponent("sluice.yaml")
        try Data("journal:\n  path: \(dir.appendingPathComponent("journal.db").path)\n".utf8).write(to: config)
        let binary = try #require(SluiceBinary.path)
        let arguments = ["load", "--file", path, "--table", "\(database).events", "-c", config.path]
        let first = try run(binary, arguments, environment: try LoadServers.variables("26.9"))
        #expect(first.status == 0, "\(first.stderr)")
        #expect(summary(first)["status"] as? String == "loaded")
        let second = try run(binary, arguments, environment: try LoadServers.variables("26.9"))
        #expect(second.status == 0, "\(second.stderr)")
        let json = summary(second)
        #expect(json["status"] as? String == "duplicate")
        #expect(json["rows"] as? Int == 0)
        #expect(json["duplicate_of"] as? String == summary(first)["correlation_id"] as? String)
        #expect(try await LoadServers.sql("26.9", "SELECT count() FROM \(database).events") == "10\n")
        try await LoadServers.sql("26.9", "DROP DATABASE \(database)")
    }

    @Test func failuresExitWithTheirCode() async throws {
        let dir = try temporaryDirectory("load-fail")
        defer { try? FileManager.default.removeItem(at: dir) }
        let database = try await LoadServers.database("26.9")
        let binary = try #require(SluiceBinary.path)
        let environment = try LoadServers.variables("26.9")

        let notParquet = dir.appendingPathComponent("notes.parquet")
        try Data(String(repeating: "id,v\n1,2\n", count: 300).utf8).write(to: notParquet)
        let e002 = try run(binary, ["load", "--file", notParquet.path, "--table", "\(database).events"], environment: environment)
        #expect(e002.status == 1)
        #expect(e002.stderr.contains("E002"), "\(e002.stderr)")
        #expect(summary(e002)["status"] as? String == "failed")
        #expect(summary(e002)["code"] as? String == "E002")

        let path = try LoadServers.partitioned("batch_4.parquet", in: dir)
        let e003 = try run(binary, ["load", "--file", path, "--table", "\(database).no_such_table"], environment: environment)
        #expect(e003.status == 1)
        #expect(e003.stderr.contains("E003") && e003.stderr.contains("does not exist"), "\(e003.stderr)")

        let e004 = try run(
            binary, ["load", "--file", path, "--table", "\(database).events"],
            environment: environment.merging(["SLUICE_CLICKHOUSE_URL": "http://127.0.0.1:1"]) { $1 })
        #expect(e004.status == 1)
        #expect(e004.stderr.contains("E004"), "\(e004.stderr)")
        #expect(summary(e004)["code"] as? String == "E004")

        let unrouted = try run(binary, ["load", "s3://some-bucket/elsewhere/file.parquet"], environment: environment)
        #expect(unrouted.status == 1)
        #expect(unrouted.stderr.contains("E001"), "\(unrouted.stderr)")
        #expect(try await LoadServers.sql("26.9", "SELECT count() FROM \(database).events") == "0\n")
        try await LoadServers.sql("26.9", "DROP DATABASE \(database)")
    }

    /// On a terminal (a pseudo-terminal from util-linux `script`), standard error shows the progress.
    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/script"), "needs util-linux script"))
    func aTerminalShowsProgress() async throws {
        let dir = try temporaryDirectory("load-tty")
        defer { try? FileManager.default.removeItem(at: dir) }
        let database = try await LoadServers.database("26.9")
        let path = try LoadServers.partitioned("batch_5.parquet", in: dir)
        let binary = try #require(SluiceBinary.path)
        let command = [binary, "load", "--file", path, "--table", "\(database).events"].map { "'\($0)'" }.joined(separator: " ")
        let result = try run("/usr/bin/script", ["-qec", command, "/dev/null"], environment: try LoadServers.variables("26.9"))
        #expect(result.status == 0, "\(result.stdout)")
        #expect(result.stdout.contains("10 rows, row group 2 of 2"), "\(result.stdout)")
        #expect(result.stdout.contains("\"status\":\"loaded\""))
        try await LoadServers.sql("26.9", "DROP DATABASE \(database)")
    }

    @Test func usageErrors() throws {
        let binary = try #require(SluiceBinary.path)
        #expect(try run(binary, ["load"]).status != 0)
        let noTable = try run(binary, ["load", "--file", "/tmp/x.parquet"])
        #expect(noTable.status != 0)
        #expect(noTable.stderr.contains("--table"))
        #expect(try run(binary, ["load", "s3://b/k.parquet", "--file", "/tmp/x.parquet", "--table", "a.b"]).status != 0)
        #expect(try run(binary, ["load", "--file", "/tmp/x.parquet", "--table", "not a table"]).status != 0)
    }

    func put(_ url: String, _ bytes: [UInt8]) async throws -> Int {
        var request = HTTPClientRequest(url: url)
        request.method = .PUT
        request.body = .bytes(ByteBuffer(bytes: bytes))
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(15))
        _ = try await response.body.collect(upTo: 1 << 20)
        return Int(response.status.code)
    }
}

@Suite("sluice parquet", .enabled(if: SluiceBinary.available, "needs the sluice binary"))
struct ParquetCLITests {
    /// `cat` prints exactly the corpus's expected JSON Lines.
    @Test(.enabled(if: Corpus.enabled, "needs the corpus (SLUICE_CORPUS)"))
    func catPrintsTheCanonicalJSONLines() throws {
        let binary = try #require(SluiceBinary.path)
        let data = try #require(Corpus.root).appendingPathComponent("parquet/data")
        for name in ["alltypes_plain.parquet", "nested_lists.snappy.parquet", "nested_maps.snappy.parquet"] {
            let result = try run(binary, ["parquet", "cat", data.appendingPathComponent(name).path])
            #expect(result.status == 0, "\(name): \(result.stderr)")
            let expected = try String(contentsOf: data.appendingPathComponent(name + ".expected.jsonl"), encoding: .utf8)
            #expect(result.stdout == expected, "\(name)")
        }
    }

    @Test func schemaDescribesColumnsAndRowGroups() throws {
        let binary = try #require(SluiceBinary.path)
        let result = try run(binary, ["parquet", "schema", LoadServers.fixtures.appendingPathComponent("nested.parquet").path])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.hasPrefix("rows: 6, row groups: 3"))
        #expect(result.stdout.contains("message schema {"))
        #expect(result.stdout.contains("row group 2: 2 rows"))
        #expect(result.stdout.hasSuffix("\n"))
    }

    @Test func unreadableFilesExitWithTheirCode() throws {
        let binary = try #require(SluiceBinary.path)
        let dir = try temporaryDirectory("parquet-cli")
        defer { try? FileManager.default.removeItem(at: dir) }
        let notParquet = dir.appendingPathComponent("a.parquet")
        try Data("a,b\n1,2\n3,4\n".utf8).write(to: notParquet)
        for command in ["cat", "schema"] {
            let result = try run(binary, ["parquet", command, notParquet.path])
            #expect(result.status == 1)
            #expect(result.stdout.isEmpty)
            #expect(result.stderr.contains("E002"), "\(result.stderr)")
        }
        let corrupt = try run(binary, ["parquet", "cat", LoadServers.fixtures.appendingPathComponent("corrupt_page.parquet").path])
        #expect(corrupt.status == 1)
        #expect(corrupt.stderr.contains("E003 corrupt"), "\(corrupt.stderr)")
        let missing = try run(binary, ["parquet", "schema", dir.appendingPathComponent("missing.parquet").path])
        #expect(missing.status == 1)
    }
}
