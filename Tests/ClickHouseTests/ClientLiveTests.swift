import ClickHouse
import ClickHouseNative
import Logging
import NIOCore
import Synchronization
import Testing

@Suite("HTTP client against the real servers", .enabled(if: LiveServers.enabled, LiveServers.reason))
struct ClientLiveTests {
    @Test(arguments: LiveServers.names)
    func capabilitiesByVersionMatchWhatTheServerReports(server: String) async throws {
        let client = try LiveServers.client(server)
        defer { Task { try? await client.shutdown() } }
        let capabilities = try await client.capabilities()
        #expect(capabilities.version.description.hasPrefix(server))
        let families = Set(try await client.query("SELECT name FROM system.data_type_families").map { $0[0] })
        let ours: Set<String> = [
            "Int128", "Int256", "UInt128", "UInt256", "Map", "DateTime64", "Bool", "IPv4", "IPv6", "Date32", "LowCardinality",
            "Decimal", "Nested", "SimpleAggregateFunction", "Enum8", "Enum16", "FixedString", "UUID",
        ]
        #expect(capabilities.typeFamilies.intersection(ours) == families.intersection(ours))
        let settings = Set(try await client.query(
            "SELECT name FROM system.settings WHERE name IN ('insert_deduplication_token', 'deduplicate_insert')").map { $0[0] })
        #expect(capabilities.hasInsertDeduplicationToken == settings.contains("insert_deduplication_token"))
        #expect(capabilities.hasDeduplicateInsertSetting == settings.contains("deduplicate_insert"))
        let partColumns = Set(try await client.query(
            "SELECT name FROM system.columns WHERE database = 'system' AND table = 'parts'").map { $0[0] })
        #expect(capabilities.hasPartHashes == partColumns.contains("hash_of_all_files"))
        // The exception-code header: present exactly when the version says so.
        let probe = try LiveServers.client(server)
        defer { Task { try? await probe.shutdown() } }
        await #expect {
            try await probe.execute("SELECT * FROM system.no_such_table")
        } throws: { error in
            (error as? ClickHouseError)?.serverCode == 60
        }
    }

    @Test(arguments: LiveServers.names)
    func headersAuthenticateAndThePasswordNeverShows(server: String) async throws {
        let writer = try LiveServers.client(server, user: "writer", password: "secret")
        let rows = try await writer.query("SELECT 1")
        #expect(rows == [["1"]])
        #expect(!writer.configuration.description.contains("secret"))
        try await writer.shutdown()

        let wrong = try LiveServers.client(server, user: "writer", password: "not-the-password-42")
        do {
            _ = try await wrong.query("SELECT 1")
            Issue.record("a wrong password must fail")
        } catch {
            #expect(error.category == .permission)
            #expect(!error.isRetryable)
            #expect(!"\(error)".contains("not-the-password-42"))
            #expect(error.serverCode == (server == "18.16" ? 193 : 516))
        }
        try await wrong.shutdown()
    }

    @Test(arguments: LiveServers.names)
    func liveErrorsAreClassified(server: String) async throws {
        try await LiveServers.withDatabase(server) { client, database in
            try await client.execute("CREATE TABLE \(database).t (id Int64, s String) ENGINE = MergeTree ORDER BY id")
            var cases: [(String, [String: String], Int, ClickHouseError.Category)] = [
                ("INSERT INTO \(database).missing SELECT 1", [:], 60, .schema),
                ("INSERT INTO no_such_db_x.t SELECT 1", [:], 81, .schema),
                ("SELECT groupArray(number) FROM numbers(1000000)", ["max_memory_usage": "10000"], 241, .memory),
                ("SELEKT 1", [:], 62, .rejected),
                ("SELECT count() FROM numbers(100000000000)", ["max_execution_time": "1"], 159, .unavailable),
            ]
            cases.append(("INSERT INTO \(database).t (id, nope) SELECT 1, 2", [:], 16, .schema))
            for (sql, settings, code, category) in cases {
                do {
                    try await client.execute(sql, settings: settings, queryID: "err-\(database)-\(code)")
                    Issue.record("\(sql) must fail")
                } catch let error as ClickHouseError {
                    #expect(error.serverCode == code, "\(server): \(sql)")
                    #expect(error.category == category, "\(server): \(sql)")
                    #expect(error.queryID == "err-\(database)-\(code)")
                }
            }
            // A Native body whose data does not parse is a schema error too (33 truncated data).
            do {
                try await client.insert(
                    "INSERT INTO \(database).t FORMAT Native", body: AsyncSingle(ByteBuffer(bytes: [2, 1, 2, 0x69, 0x64, 5] + Array("Int64".utf8) + [1])))
                Issue.record("a truncated Native body must fail")
            } catch let error as ClickHouseError {
                #expect(error.category == .schema)
                #expect(error.serverCode == 33)
            }
        }
    }

    @Test(arguments: LiveServers.names)
    func theObserverSeesEveryRequestWithItsOutcome(server: String) async throws {
        let seen = Mutex<[String]>([])
        let client = ClickHouseClient(
            configuration: try LiveServers.configuration(server), logger: Logger(label: "test"),
            observer: { operation, outcome, duration in
                #expect(duration >= .zero)
                seen.withLock { $0.append("\(operation) \(outcome)") }
            })
        try await client.ping()
        _ = try await client.query("SELECT 1")
        _ = try? await client.query("SELECT * FROM system.no_such_table_here")
        try await client.shutdown()
        #expect(seen.withLock { $0 } == ["ping ok", "query ok", "query schema"])
    }

    @Test(arguments: LiveServers.names)
    func aRefusedConnectionIsARetryableConnectionError(server: String) async throws {
        // A port that was free a moment ago: nothing listens there.
        let configuration = try ClickHouseConfiguration(url: "http://127.0.0.1:1", connectTimeout: .seconds(2))
        let client = ClickHouseClient(configuration: configuration, logger: Logger(label: "test"))
        do {
            _ = try await client.query("SELECT 1")
            Issue.record("nothing listens on port 1")
        } catch {
            #expect(error.category == .connection)
            #expect(error.transport == .refused)
            #expect(error.code == "E004")
            #expect(!error.outcomeUnknown)
        }
        try await client.shutdown()
        _ = server
    }

    @Test(arguments: LiveServers.names)
    func pooledConnectionsSurviveTheKeepAliveTimeout(server: String) async throws {
        // 18.16 closes idle keep-alive connections after 3 s; the pool drops them at 2.5 s, so a request after a
        // 3.5 s pause opens a fresh connection instead of writing into a closing one.
        let client = try LiveServers.client(server)
        for round in 0..<3 {
            let rows = try await client.query("SELECT \(round)")
            #expect(rows == [["\(round)"]])
            try await Task.sleep(for: .milliseconds(3500))
        }
        try await client.shutdown()
    }

    @Test(arguments: LiveServers.names)
    func schemaIsCachedAndRefreshed(server: String) async throws {
        try await LiveServers.withDatabase(server) { client, database in
            try await client.execute("""
                CREATE TABLE \(database).t (ds Date, id UInt64, v Nullable(String), d UInt8 DEFAULT 7, m UInt64 MATERIALIZED id * 2,
                a UInt64 ALIAS id + 1) ENGINE = MergeTree PARTITION BY toYYYYMM(ds) ORDER BY id
                """)
            let name = TableName(database: database, table: "t")
            let schema = try await client.tableSchema(name)
            #expect(schema.columns.map(\.name) == ["ds", "id", "v", "d", "m", "a"])
            #expect(schema.columns.map(\.defaultKind) == [.none, .none, .none, .default, .materialized, .alias])
            #expect(schema.columns.map(\.isInPartitionKey) == [true, false, false, false, false, false])
            #expect(try schema.column(named: "v")?.type.get() == .nullable(.string))
            #expect(schema.partitionKey == "toYYYYMM(ds)")
            #expect(schema.engine == "MergeTree")
            #expect(schema.columns.filter(\.isInsertable).map(\.name) == ["ds", "id", "v", "d"])

            try await client.execute("ALTER TABLE \(database).t ADD COLUMN extra Int32")
            #expect(try await client.tableSchema(name).column(named: "extra") == nil, "cached until refreshed")
            #expect(try await client.tableSchema(name, refresh: true).column(named: "extra") != nil)

            do {
                _ = try await client.tableSchema(TableName(database: database, table: "missing"))
                Issue.record("missing table")
            } catch let error as ClickHouseError {
                #expect(error.category == .schema)
                #expect(error.serverCode == 60)
            }
        }
    }
}

/// A one-element async sequence.
struct AsyncSingle: AsyncSequence, Sendable {
    typealias Element = ByteBuffer
    let value: ByteBuffer
    init(_ value: ByteBuffer) { self.value = value }
    struct AsyncIterator: AsyncIteratorProtocol {
        var value: ByteBuffer?
        mutating func next() async throws -> ByteBuffer? {
            defer { value = nil }
            return value
        }
    }
    func makeAsyncIterator() -> AsyncIterator { AsyncIterator(value: value) }
}
