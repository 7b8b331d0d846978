import ClickHouse
import Foundation
import Logging
import Testing

/// The two real servers the integration tests run against, found through `SLUICE_TEST_CH18_URL` and
/// `SLUICE_TEST_CH26_URL`. Without them the integration suites are disabled, unless `SLUICE_REQUIRE_SERVERS=1`,
/// which makes every integration test fail instead.
enum LiveServers {
    static let environment = ProcessInfo.processInfo.environment
    static let urls: [String: String] = [
        "18.16": environment["SLUICE_TEST_CH18_URL"], "26.9": environment["SLUICE_TEST_CH26_URL"],
    ].compactMapValues { $0?.isEmpty == false ? $0 : nil }
    static let required = environment["SLUICE_REQUIRE_SERVERS"] == "1"
    /// Both servers are set, or their absence must fail the run.
    static let enabled = required || urls.count == 2
    static let reason: Comment = "set SLUICE_TEST_CH18_URL and SLUICE_TEST_CH26_URL (scripts/servers/ch18.sh, chdb.sh)"
    /// Every integration test runs once per server.
    static let names = ["18.16", "26.9"]

    static func configuration(_ name: String, user: String = "default", password: String = "") throws -> ClickHouseConfiguration {
        let url = try #require(urls[name], "no URL for ClickHouse \(name): \(reason)")
        return try ClickHouseConfiguration(url: url, user: user, password: password)
    }

    static func client(_ name: String, user: String = "default", password: String = "") throws -> ClickHouseClient {
        ClickHouseClient(configuration: try configuration(name, user: user, password: password), logger: Logger(label: "test"))
    }

    /// Runs `body` with a client and a fresh database, and drops both afterwards.
    static func withDatabase<T>(
        _ name: String, _ body: (ClickHouseClient, String) async throws -> T
    ) async throws -> T {
        let client = try client(name)
        let database = "sluice_test_\(UInt64.random(in: 0...UInt64.max) % 1_000_000_000_000)"
        do {
            try await client.execute("CREATE DATABASE \(database)")
            let result = try await body(client, database)
            try await client.execute("DROP DATABASE IF EXISTS \(database)")
            try await client.shutdown()
            return result
        } catch {
            try? await client.execute("DROP DATABASE IF EXISTS \(database)")
            try? await client.shutdown()
            throw error
        }
    }
}
