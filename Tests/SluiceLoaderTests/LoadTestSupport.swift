import AWS
import ClickHouse
import Foundation
import Logging
import ClickHouseNative
import Parquet
import ParquetClickHouse
import SluiceCore
import SluiceIntake
import SluiceJournal
import SluiceLoader
import Synchronization
import Testing

/// The servers the integration tests use, from the test script's variables: moto (`SLUICE_TEST_S3_ENDPOINT`) and both
/// ClickHouse servers (`SLUICE_TEST_CH18_URL`, `SLUICE_TEST_CH26_URL`). Without them the live suites are disabled,
/// unless `SLUICE_REQUIRE_SERVERS=1`, which makes them fail instead.
enum Live {
    static let environment = ProcessInfo.processInfo.environment
    static let clickhouseURLs: [String: String] = [
        "18.16": environment["SLUICE_TEST_CH18_URL"], "26.9": environment["SLUICE_TEST_CH26_URL"],
    ].compactMapValues { $0?.isEmpty == false ? $0 : nil }
    static let motoEndpoint = environment["SLUICE_TEST_S3_ENDPOINT"].flatMap { $0.isEmpty ? nil : $0 }
    static let required = environment["SLUICE_REQUIRE_SERVERS"] == "1"
    static let enabled = required || (clickhouseURLs.count == 2 && motoEndpoint != nil)
    static let reason: Comment = "set SLUICE_TEST_S3_ENDPOINT, SLUICE_TEST_CH18_URL and SLUICE_TEST_CH26_URL (scripts/test starts them)"
    static let servers = ["18.16", "26.9"]
    static let logger = Logger(label: "sluice.loader.tests")

    static func clickhouseURL(_ server: String) throws -> String {
        try #require(clickhouseURLs[server], "no URL for ClickHouse \(server)")
    }

    static func clickhouse(_ server: String) throws -> ClickHouseClient {
        ClickHouseClient(configuration: try ClickHouseConfiguration(url: try clickhouseURL(server)), logger: logger)
    }

    static func uniqueName(_ prefix: String) -> String {
        "\(prefix)\(UInt64.random(in: 0...UInt64.max) % 1_000_000_000_000)"
    }
}

/// The test fixtures (`Fixtures/make_fixtures.py`) and the shared corpus.
enum Fixtures {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")
    static func path(_ name: String) -> String { directory.appendingPathComponent(name).path }
    static func bytes(_ name: String) throws -> [UInt8] { try [UInt8](Data(contentsOf: directory.appendingPathComponent(name))) }

    /// `$SLUICE_CORPUS`, else `<package>/../shared/corpus`.
    static let corpus: URL = {
        if let path = Live.environment["SLUICE_CORPUS"], !path.isEmpty { return URL(fileURLWithPath: path) }
        let package = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        return package.deletingLastPathComponent().appendingPathComponent("shared/corpus")
    }()
    static let corpusData = corpus.appendingPathComponent("parquet/data")
    static let corpusEnabled = Live.environment["SLUICE_REQUIRE_CORPUS"] == "1" || FileManager.default.fileExists(atPath: corpusData.path)
}

/// Thrown by fault hooks: the process "dies" there.
struct SimulatedCrash: Error {}

/// A journal file with its writer loop running; ``close()`` stops it and releases the file (a restart opens it again).
final class RunningJournal: Sendable {
    let journal: Journal
    let task: Task<Void, Never>

    init(path: String) throws {
        let journal = try Journal(configuration: JournalConfiguration(path: path), logger: Live.logger)
        self.journal = journal
        self.task = Task { try? await journal.run() }
    }

    func close() async {
        journal.close()
        await task.value
    }
}

/// One test's world: a bucket in moto, a database on one ClickHouse server, a journal file.
final class LoadHarness: Sendable {
    let server: String
    let database: String
    let bucket: String
    let journalPath: String
    let transport: AWSHTTPTransport
    let s3: S3Client
    let clickhouse: ClickHouseClient
    let correlationIDs = Mutex<Int>(0)

    init(server: String, versioned: Bool = false, maxObjectBytes: Int64 = S3Configuration.defaultMaxObjectBytes) async throws {
        self.server = server
        database = Live.uniqueName("sluice_loader_")
        bucket = "sluice-loader-\(UInt32.random(in: 0...UInt32.max))"
        journalPath = FileManager.default.temporaryDirectory
            .appendingPathComponent("sluice-loader-\(UUID().uuidString)").appendingPathComponent("journal.db").path
        transport = AWSHTTPTransport()
        let endpoint = try AWSEndpoint(url: try #require(Live.motoEndpoint, "SLUICE_TEST_S3_ENDPOINT is not set"))
        s3 = S3Client(
            configuration: S3Configuration(region: "us-east-1", endpoint: endpoint, pathStyle: true, maxObjectBytes: maxObjectBytes),
            credentials: StaticCredentialProvider(accessKeyID: "AKIDMOTOTESTING01", secretAccessKey: "moto-secret-key"),
            transport: transport)
        clickhouse = try Live.clickhouse(server)
        try await s3.createBucket(bucket, logger: Live.logger)
        if versioned { try await s3.enableVersioning(bucket, logger: Live.logger) }
        try await clickhouse.execute("CREATE DATABASE \(database)")
    }

    func shutdown() async {
        try? await clickhouse.execute("DROP DATABASE IF EXISTS \(database)")
        try? await clickhouse.shutdown()
        try? await transport.shutdown()
        try? FileManager.default.removeItem(atPath: URL(fileURLWithPath: journalPath).deletingLastPathComponent().path)
    }

    /// Runs `body` with a harness, shutting it down afterwards whatever happens.
    static func with(
        server: String, versioned: Bool = false, maxObjectBytes: Int64 = S3Configuration.defaultMaxObjectBytes,
        _ body: (LoadHarness) async throws -> Void
    ) async throws {
        let harness = try await LoadHarness(server: server, versioned: versioned, maxObjectBytes: maxObjectBytes)
        do {
            try await body(harness)
        } catch {
            await harness.shutdown()
            throw error
        }
        await harness.shutdown()
    }

    var table: TableReference { TableReference(database: database, table: "events") }

    /// Creates `<database>.events` with these columns (the test's table; `settings` for 18.16's LowCardinality).
    func createTable(_ columns: String, partitionBy: String = "tuple()", orderBy: String = "tuple()") async throws {
        try await clickhouse.execute(
            "CREATE TABLE \(database).events (\(columns)) ENGINE = MergeTree PARTITION BY \(partitionBy) ORDER BY \(orderBy)",
            settings: server == "18.16" ? ["allow_experimental_low_cardinality_type": "1"] : [:])
    }

    @discardableResult
    func put(_ key: String, _ bytes: [UInt8]) async throws -> S3ObjectInfo {
        try await s3.putObject(bucket: bucket, key: key, body: bytes, logger: Live.logger)
    }

    func nextCorrelationID() -> String {
        let n = correlationIDs.withLock { $0 += 1; return $0 }
        return "00000000-0000-4000-8000-\(String(format: "%012d", n))-\(UInt16.random(in: 0...UInt16.max))"
    }

    /// A journal entry for `key` of domain `market`, table `events` (into this harness's database).
    func queued(_ key: String, etag: String? = nil, versionID: String? = nil) throws -> QueuedFile {
        let parsed = try ParsedKey.parse(key)
        return QueuedFile(
            correlationID: nextCorrelationID(), source: .eventBridge, bucket: bucket, key: key, size: nil, etag: etag, versionID: versionID,
            sequencer: nil, versionIdentity: nil, eventTime: nil, eventID: nil, domain: parsed.domain, parsedKey: parsed, target: table,
            priority: .high, payload: "{}")
    }

    /// Queues the keys (in order) and claims them as one batch.
    func claim(_ journal: Journal, keys: [String], etags: [String?]? = nil) async throws -> ClaimedBatch {
        var files: [QueuedFile] = []
        for (index, key) in keys.enumerated() { files.append(try queued(key, etag: etags?[index] ?? nil)) }
        guard case .accepted = try await journal.enqueue(files) else { throw SimulatedCrash() }
        return try #require(try await journal.claimNext(maxFiles: ["market": 100]))
    }

    func loader(
        _ journal: Journal, configuration: LoadConfiguration = LoadConfiguration(), minimumObjectBytes: Int64 = 0,
        objects: (any LoadObjectStore)? = nil, clickhouse: ClickHouseClient? = nil
    ) -> BatchLoader {
        var configuration = configuration
        configuration.clickhouseURL = (try? Live.clickhouseURL(server)) ?? configuration.clickhouseURL
        return BatchLoader(
            configuration: configuration, minimumObjectBytes: minimumObjectBytes, journal: journal, objects: objects ?? S3ObjectStore(s3: s3),
            clickhouse: clickhouse ?? self.clickhouse, logger: Live.logger)
    }

    func query(_ sql: String) async throws -> [[String]] {
        try await clickhouse.query(sql)
    }

    /// Staging tables left in the database.
    func stagingTables() async throws -> [String] {
        try await query("SELECT name FROM system.tables WHERE database = '\(database)' AND startsWith(name, '_sluice_stage_')").map { $0[0] }
    }
}

/// A store that counts reads of the objects it opens (to prove that nothing was downloaded).
final class CountingStore: LoadObjectStore {
    let base: any LoadObjectStore
    /// HeadObjects that gave a byte source.
    let opens = Mutex(0)
    /// Ranged GETs.
    let reads = Mutex(0)

    init(_ base: any LoadObjectStore) { self.base = base }

    func open(bucket: String, key: String, pin: S3ObjectPin, logger: Logger) async throws -> LoadObject {
        let object = try await base.open(bucket: bucket, key: key, pin: pin, logger: logger)
        opens.withLock { $0 += 1 }
        return LoadObject(info: object.info, source: CountingSource(base: object.source, reads: self))
    }

    struct CountingSource: ParquetByteSource {
        let base: any ParquetByteSource
        let reads: CountingStore
        var size: Int64 { base.size }
        func read(offset: Int64, length: Int) async throws -> [UInt8] {
            reads.reads.withLock { $0 += 1 }
            return try await base.read(offset: offset, length: length)
        }
    }
}

/// Column definitions of the ClickHouse types that hold a file's fields (`modern: false`: types 18.16 has), or `nil`
/// when a field has no such type.
func columnDefinitions(_ bytes: [UInt8], modern: Bool) -> String? {
    guard let file = try? ParquetFile.openSynchronously(bytes: bytes) else { return nil }
    var definitions: [String] = []
    for field in file.schema.root.children {
        guard let type = ClickHouseType.suggested(for: field, modern: modern) else { return nil }
        definitions.append("`\(field.name.replacingOccurrences(of: "`", with: "\\`"))` \(type)")
    }
    return definitions.isEmpty ? nil : definitions.joined(separator: ", ")
}

/// The expected rows of fixture `batch_<n>.parquet` loaded from `key`: id, v, s, ds, _source_key.
func expectedBatchRows(_ n: Int, key: String, ds: String = "2025-09-10") -> [[String]] {
    (0..<10).map { i in
        let id = n * 100 + i
        return ["\(id)", "\(id * 3)", "file \(n) row \(i)", ds, key]
    }
}

extension BatchOutcome {
    /// The result of the entry with this correlation id.
    func result(_ correlationID: String) -> FileResult? {
        files.first { $0.correlationID == correlationID }?.result
    }
}

extension ClaimedBatch {
    func correlationID(_ key: String) -> String {
        entries.first { $0.key == key }?.correlationID ?? ""
    }
}
