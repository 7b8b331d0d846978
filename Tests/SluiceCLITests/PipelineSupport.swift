import AWS
import ClickHouse
import Foundation
import Logging
import NIOHTTP1
import AsyncHTTPClient
import Testing

/// The real servers the pipeline tests run against, from the test script's environment.
enum Servers {
    static var env: [String: String] { ProcessInfo.processInfo.environment }
    static var s3: String? { env["SLUICE_TEST_S3_ENDPOINT"] }
    static var clickhouse: [(name: String, url: String)] {
        [("18.16", env["SLUICE_TEST_CH18_URL"]), ("26.9", env["SLUICE_TEST_CH26_URL"])].compactMap { n, u in u.map { (n, $0) } }
    }
    static var required: Bool { env["SLUICE_REQUIRE_SERVERS"] == "1" }
    static var available: Bool { (s3 != nil && !clickhouse.isEmpty && SluiceBinary.available) || required }
    static var clickhouseNames: [String] { required ? ["18.16", "26.9"] : clickhouse.map(\.name) }
    static func clickhouseURL(_ name: String) throws -> String {
        try #require(clickhouse.first { $0.name == name }?.url, "ClickHouse \(name) is not running (SLUICE_TEST_CH*_URL)")
    }
}

/// One test's world: a bucket in moto, a database in ClickHouse, and `sluice serve` configured for them.
final class PipelineWorld: @unchecked Sendable {
    let dir: URL
    let bucket: String
    let database: String
    let clickhouseURL: String
    let s3Endpoint: String
    let aws: AWSClients
    let clickhouse: ClickHouseClient
    let logger = Logger(label: "pipeline-test")
    var server: ServeProcess?

    static let awsEnvironment = ["AWS_ACCESS_KEY_ID": "AKIDPIPELINETEST01", "AWS_SECRET_ACCESS_KEY": "pipeline-secret", "AWS_REGION": "us-east-1"]

    init(server name: String, clickhouseURL override: String? = nil) async throws {
        dir = try temporaryDirectory("pipeline")
        let suffix = String(UInt32.random(in: 0...UInt32.max), radix: 36)
        bucket = "pipeline-\(suffix)"
        database = "pipeline_\(suffix)"
        clickhouseURL = try Servers.clickhouseURL(name)
        s3Endpoint = try #require(Servers.s3, "moto is not running (SLUICE_TEST_S3_ENDPOINT)")
        let awsConfiguration = try AWSConfiguration(
            values: ["s3.endpoint": s3Endpoint, "s3.path_style": "true", "sqs.endpoint": s3Endpoint, "s3.region": "us-east-1", "sqs.region": "us-east-1"],
            environment: AWSEnvironment(variables: Self.awsEnvironment) { _ in nil }
        )
        aws = AWSClients(
            configuration: awsConfiguration, environment: AWSEnvironment(variables: Self.awsEnvironment) { _ in nil },
            credentials: StaticCredentialProvider(accessKeyID: Self.awsEnvironment["AWS_ACCESS_KEY_ID"]!, secretAccessKey: Self.awsEnvironment["AWS_SECRET_ACCESS_KEY"]!)
        )
        clickhouse = ClickHouseClient(configuration: try ClickHouseConfiguration(url: clickhouseURL), logger: logger)
        try await aws.s3.createBucket(bucket, logger: logger)
        try await clickhouse.execute("CREATE DATABASE IF NOT EXISTS \(database)")
    }

    func createPricesTable() async throws {
        try await clickhouse.execute(
            "CREATE TABLE \(database).prices (ds Date, symbol String, price Float64, volume Int64) ENGINE = MergeTree PARTITION BY ds ORDER BY (symbol, volume)"
        )
    }

    /// Writes `count` Parquet files of `rows` rows with pyarrow.
    func makeFiles(count: Int, rows: Int) throws -> [[UInt8]] {
        let out = dir.appendingPathComponent("files")
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/make_prices.py").path
        let r = try run("/usr/bin/env", ["python3", script, out.path, String(count), String(rows)])
        try #require(r.status == 0, "pyarrow could not write the test files: \(r.stderr)")
        return try (0..<count).map { Array(try Data(contentsOf: out.appendingPathComponent("f\($0).parquet"))) }
    }

    /// Uploads a file and returns its ETag.
    @discardableResult
    func put(_ key: String, _ body: [UInt8]) async throws -> String {
        (try await aws.s3.putObject(bucket: bucket, key: key, body: body, logger: logger).eTag).replacingOccurrences(of: "\"", with: "")
    }

    static let defaultLoader = "loader:\n  workers: 2\n  batch_wait_s: 0.2\n  poll_interval_ms: 50\n"

    func config(extra: String = "", loader: String = defaultLoader, clickhouseURL: String? = nil) throws -> URL {
        let yaml = """
            http:
              host: 127.0.0.1
              port: 0
              drain_seconds: 0
            intake:
              bucket: \(bucket)
              domains: [market, customer, product, analytics]
            journal:
              path: \(dir.appendingPathComponent("journal.db").path)
            clickhouse:
              url: \(clickhouseURL ?? self.clickhouseURL)
            s3:
              endpoint: \(s3Endpoint)
              path_style: true
            domains:
              market:
                database: \(database)
                batch_min: 1
                batch_max: 10
              customer:
                database: \(database)
              product:
                database: \(database)
              analytics:
                database: \(database)
            log:
              level: info
            \(loader)
            \(extra)
            """
        let url = dir.appendingPathComponent("sluice.yaml")
        try Data(yaml.utf8).write(to: url)
        return url
    }

    func start(extra: String = "", loader: String = defaultLoader, clickhouseURL: String? = nil) async throws -> ServeProcess {
        var environment = Self.awsEnvironment
        environment["AWS_ENDPOINT_URL_SQS"] = s3Endpoint
        let server = try await ServeProcess.start(config: try config(extra: extra, loader: loader, clickhouseURL: clickhouseURL), environment: environment)
        self.server = server
        return server
    }

    func event(_ key: String, size: Int, etag: String) -> String {
        """
        {"version":"0","id":"\(UUID().uuidString.lowercased())","detail-type":"Object Created","source":"aws.s3","time":"\(ISO8601DateFormatter().string(from: Date()))",\
        "detail":{"bucket":{"name":"\(bucket)"},"object":{"key":"\(key)","size":\(size),"etag":"\(etag)"}}}
        """
    }

    func count(_ table: String = "prices") async throws -> Int {
        Int(try await clickhouse.query("SELECT count() FROM \(database).\(table)").first?.first ?? "") ?? -1
    }

    /// Polls the journal until nothing is pending (or the deadline passes); returns the loads by status.
    func waitUntilSettled(_ server: ServeProcess, timeout: Duration = .seconds(120)) async throws -> [String: Int] {
        let deadline = ContinuousClock.now + timeout
        while true {
            let pending = try await http(.shared, .GET, "\(server.url)/v1/loads?status=queued,loading,retrying&limit=1000")
            if (pending.json["count"] as? Int) == 0 || ContinuousClock.now > deadline { break }
            try await Task.sleep(for: .milliseconds(200))
        }
        let all = try await http(.shared, .GET, "\(server.url)/v1/loads?limit=1000")
        var byStatus: [String: Int] = [:]
        for load in (all.json["loads"] as? [[String: Any]]) ?? [] { byStatus[load["status"] as? String ?? "?", default: 0] += 1 }
        return byStatus
    }

    func close() async {
        if let server, server.process.isRunning { _ = server.terminate() }
        try? await clickhouse.execute("DROP DATABASE IF EXISTS \(database)")
        try? await clickhouse.shutdown()
        try? await aws.shutdown()
        try? FileManager.default.removeItem(at: dir)
    }
}
