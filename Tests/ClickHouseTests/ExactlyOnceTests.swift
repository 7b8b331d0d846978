@testable import ClickHouse
import ClickHouseNative
import Logging
import Testing

/// The exactly-once protocol of docs/exactly-once.md, driven by an in-memory ledger, with a simulated crash at every
/// step: the driver stops at the crash point, and a fresh client resumes from what the ledger recorded. Every run
/// must end with each row in the target exactly once.
@Suite("Exactly-once staged loads on the real servers", .enabled(if: LiveServers.enabled, LiveServers.reason))
struct ExactlyOnceTests {
    /// Where the simulated process dies.
    enum CrashPoint: String, CaseIterable, Sendable {
        case none
        case afterPrepare
        case midInsert  // the connection drops with half the body sent
        case afterInsert  // staged, manifest not recorded
        case afterIntent  // intent of the 2nd partition recorded, ALTER not sent
        case afterCommit  // ALTER of the 2nd partition done, not recorded
        case afterCommitThenMerge  // same, and the target merges the copied part away before recovery
        case afterLastCommit  // every partition committed and recorded, staging table not dropped
    }

    struct SimulatedCrash: Error {}

    /// The durable state a loader keeps in SQLite, here in memory.
    struct Ledger {
        var manifest: StageManifest?
        var intents: [String: CommitIntent] = [:]
        var attempts: [String: Int] = [:]
        var committed: Set<String> = []
        var done = false
        var verdicts: [String] = []
    }

    static let months = ["2025-01-15", "2025-02-15", "2025-03-15"]

    /// `rows` rows spread over three monthly partitions: ids `first ..< first + rows`.
    static func blocks(first: Int, rows: Int, blockRows: Int, lineage: String?) throws -> [[UInt8]] {
        var result: [[UInt8]] = []
        var start = first
        while start < first + rows {
            let count = min(blockRows, first + rows - start)
            let ids = (start..<(start + count)).map { UInt64($0) }
            let days = ids.map { id -> UInt16 in [20103, 20134, 20162][Int(id % 3)] }  // 2025-01-15, 2025-02-15, 2025-03-15
            var columns = [
                NativeColumn(name: "ds", type: .date, data: .fixed(FixedWidthBuffer(days))),
                NativeColumn(name: "id", type: .uint64, data: .fixed(FixedWidthBuffer(ids))),
                NativeColumn(name: "v", type: .string, data: .strings(StringBuffer(ids.map { "value \($0)" }))),
            ]
            if let lineage {
                columns.append(NativeColumn(name: "_sluice_load_id", type: .string, data: .strings(StringBuffer(Array(repeating: lineage, count: count)))))
            }
            var writer = NativeBlockWriter()
            try writer.writeBlock(columns)
            result.append(writer.bytes)
            start += count
        }
        return result
    }

    /// Runs (or resumes) one load, dying at `crash`.
    static func drive(
        _ ledger: inout Ledger, server: String, target: TableName, loadID: String, blocks: [[UInt8]],
        crash: CrashPoint, lineage: [String: String] = [:]
    ) async throws {
        let client = try LiveServers.client(server)
        defer { Task { try? await client.shutdown() } }
        let load = try StagedLoad(client: client, target: target, loadID: loadID)
        if ledger.done { return }
        if ledger.manifest == nil {
            try await load.prepare()
            if crash == .afterPrepare { throw SimulatedCrash() }
            do {
                try await load.insert(settings: ["min_insert_block_size_rows": "100", "max_insert_block_size": "100"]) { writer in
                    for (index, block) in blocks.enumerated() {
                        if crash == .midInsert, index == blocks.count / 2 { throw SimulatedCrash() }
                        try await writer.write(block)
                    }
                }
            } catch is SimulatedCrash {
                throw SimulatedCrash()
            }
            if crash == .afterInsert { throw SimulatedCrash() }
            ledger.manifest = try await load.seal()
        }
        let manifest = try #require(ledger.manifest)
        for (position, partition) in manifest.partitions.enumerated() where !ledger.committed.contains(partition.id) {
            if let intent = ledger.intents[partition.id] {
                var verdict = try await load.verifyCommitted(intent, lineage: lineage)
                while verdict == .inProgress {
                    try await Task.sleep(for: .milliseconds(200))
                    verdict = try await load.verifyCommitted(intent, lineage: lineage)
                }
                ledger.verdicts.append("\(partition.id): \(verdict)")
                switch verdict {
                case .committed:
                    ledger.committed.insert(partition.id)
                    continue
                case .notCommitted, .inProgress:
                    break
                case .ambiguous(let reason):
                    Issue.record("ambiguous verdict: \(reason)")
                    return
                }
            }
            let attempt = (ledger.attempts[partition.id] ?? 0) + 1
            ledger.attempts[partition.id] = attempt
            let intent = try await load.beginCommit(partition: partition.id, attempt: attempt)
            ledger.intents[partition.id] = intent
            if crash == .afterIntent, position == 1 { throw SimulatedCrash() }
            try await load.commit(intent)
            if crash == .afterCommit || crash == .afterCommitThenMerge, position == 1 { throw SimulatedCrash() }
            ledger.committed.insert(partition.id)
        }
        if crash == .afterLastCommit { throw SimulatedCrash() }
        try await load.cleanup()
        ledger.done = true
    }

    static func createTarget(_ client: ClickHouseClient, _ database: String, lineage: Bool = false, settings: String = "") async throws -> TableName {
        let extra = lineage ? ", _sluice_load_id String" : ""
        try await client.execute("""
            CREATE TABLE \(database).t (ds Date, id UInt64, v String, doubled UInt64 MATERIALIZED id * 2\(extra))
            ENGINE = MergeTree PARTITION BY toYYYYMM(ds) ORDER BY id \(settings)
            """)
        // Rows that were there before the load, in the same partitions.
        try await client.execute("INSERT INTO \(database).t (ds, id, v) SELECT toDate('2025-02-01'), 1000000 + number, 'old' FROM numbers(10)")
        return TableName(database: database, table: "t")
    }

    static func assertExactlyOnce(_ client: ClickHouseClient, _ target: TableName, rows: Int, _ comment: Comment) async throws {
        let counts = try await client.query(
            "SELECT count(), uniqExact(id), countIf(doubled = id * 2), countIf(v = concat('value ', toString(id))) FROM \(target.sql) WHERE id < 1000000")
        #expect(counts == [["\(rows)", "\(rows)", "\(rows)", "\(rows)"]], comment)
        let old = try await client.query("SELECT count() FROM \(target.sql) WHERE id >= 1000000")
        #expect(old == [["10"]], comment)
        let stages = try await client.query(
            "SELECT count() FROM system.tables WHERE database = '\(target.database)' AND startsWith(name, '_sluice_stage_')")
        #expect(stages == [["0"]], "staging table dropped: \(comment)")
    }

    @Test(arguments: LiveServers.names, CrashPoint.allCases)
    func crashAtEveryStepStillLoadsEachRowOnce(server: String, crash: CrashPoint) async throws {
        try await LiveServers.withDatabase(server) { client, database in
            let target = try await Self.createTarget(client, database)
            let blocks = try Self.blocks(first: 0, rows: 3000, blockRows: 500, lineage: nil)
            var ledger = Ledger()
            do {
                try await Self.drive(&ledger, server: server, target: target, loadID: "load_\(crash.rawValue)", blocks: blocks, crash: crash)
                #expect(crash == .none, "the crash point was not reached")
            } catch is SimulatedCrash {
                if crash == .afterCommitThenMerge {
                    try await client.execute("OPTIMIZE TABLE \(target.sql) PARTITION ID '202502' FINAL")
                }
            }
            // Restart: a new client resumes from the ledger.
            try await Self.drive(&ledger, server: server, target: target, loadID: "load_\(crash.rawValue)", blocks: blocks, crash: .none)
            try await Self.assertExactlyOnce(client, target, rows: 3000, "\(server) crash \(crash.rawValue): \(ledger.verdicts)")
            switch crash {
            case .afterIntent:
                #expect(ledger.verdicts.count == 1 && ledger.verdicts[0].contains("not committed"), "\(ledger.verdicts)")
            case .afterCommit, .afterCommitThenMerge:
                #expect(ledger.verdicts.count == 1 && ledger.verdicts[0].contains(": committed"), "\(ledger.verdicts)")
            default:
                #expect(ledger.verdicts.isEmpty)
            }
        }
    }

    /// The library's own driver (`StagedLoad.run`) with the process dying at every persisted step: the k-th write of
    /// the ledger fails, so the change before it happened on the server but was never recorded. A new client
    /// resumes from the last stored ledger. Also dies once in the middle of the insert.
    @Test(arguments: LiveServers.names)
    func theRunnerSurvivesACrashAtEveryLedgerWrite(server: String) async throws {
        try await LiveServers.withDatabase(server) { client, database in
            let target = try await Self.createTarget(client, database)
            let blocks = try Self.blocks(first: 0, rows: 1500, blockRows: 250, lineage: nil)
            let writes = 1 + 2 * 3 + 1  // sealed, intent + committed per partition, done
            for crashAt in 0...writes {
                try await client.execute("TRUNCATE TABLE \(target.sql)")
                var stored = StagedLoadLedger()
                let loadID = "run_\(crashAt)"
                let first = try LiveServers.client(server)
                do {
                    var ledger = stored
                    var count = 0
                    let load = try StagedLoad(client: first, target: target, loadID: loadID)
                    try await load.run(
                        ledger: &ledger,
                        insert: { load in
                            try await load.insert { writer in
                                for (index, block) in blocks.enumerated() {
                                    if crashAt == 0, index == 3 { throw SimulatedCrash() }
                                    try await writer.write(block)
                                }
                            }
                        },
                        persist: { ledger in
                            count += 1
                            if count == crashAt { throw SimulatedCrash() }
                            stored = ledger
                        })
                    #expect(crashAt == writes + 1, "no crash at write \(crashAt)")
                } catch is SimulatedCrash {}
                try await first.shutdown()
                // Restart from what was stored.
                var ledger = stored
                let second = try LiveServers.client(server)
                let load = try StagedLoad(client: second, target: target, loadID: loadID)
                try await load.run(ledger: &ledger, insert: { load in
                    try await load.insert { writer in for block in blocks { try await writer.write(block) } }
                }, persist: { _ in })
                try await second.shutdown()
                #expect(ledger.nextStep == .finished)
                let counts = try await client.query("SELECT count(), uniqExact(id) FROM \(target.sql)")
                #expect(counts == [["1500", "1500"]], "\(server) crash at ledger write \(crashAt)")
                let stages = try await client.query(
                    "SELECT count() FROM system.tables WHERE database = '\(database)' AND startsWith(name, '_sluice_stage_')")
                #expect(stages == [["0"]])
            }
        }
    }

    @Test(arguments: LiveServers.names)
    func aLostStagingTableIsStagedAgainWithoutTheCommittedPartitions(server: String) async throws {
        try await LiveServers.withDatabase(server) { client, database in
            let target = try await Self.createTarget(client, database)
            let blocks = try Self.blocks(first: 0, rows: 1500, blockRows: 250, lineage: nil)
            let load = try StagedLoad(client: client, target: target, loadID: "lost")
            var ledger = StagedLoadLedger()
            var writes = 0
            do {
                try await load.run(ledger: &ledger, insert: { load in
                    try await load.insert { writer in for block in blocks { try await writer.write(block) } }
                }, persist: { _ in
                    writes += 1
                    if writes == 3 { throw SimulatedCrash() }  // after the first partition is committed
                })
            } catch is SimulatedCrash {}
            #expect(ledger.committed.count == 1)
            try await load.cleanup()  // the orphan sweep, or a person, dropped it
            try await load.run(ledger: &ledger, insert: { load in
                try await load.insert { writer in for block in blocks { try await writer.write(block) } }
            }, persist: { _ in })
            let counts = try await client.query("SELECT count(), uniqExact(id) FROM \(target.sql) WHERE id < 1000000")
            #expect(counts == [["1500", "1500"]])
        }
    }

    @Test(arguments: LiveServers.names)
    func lineageDecidesWithoutPartEvidence(server: String) async throws {
        try await LiveServers.withDatabase(server) { client, database in
            let target = try await Self.createTarget(client, database, lineage: true)
            let blocks = try Self.blocks(first: 0, rows: 900, blockRows: 300, lineage: "load_lineage")
            let load = try StagedLoad(client: client, target: target, loadID: "load_lineage")
            try await load.prepare()
            try await load.insert { writer in for block in blocks { try await writer.write(block) } }
            let manifest = try await load.seal()
            #expect(manifest.partitions.map(\.id) == ["202501", "202502", "202503"])
            #expect(manifest.rows == 900)
            let lineage = ["_sluice_load_id": "load_lineage"]
            let first = try await load.beginCommit(partition: "202501")
            // Pretend the server restarted and a long time passed: part evidence alone would be inconclusive.
            var aged = first
            aged.serverTime -= 100_000
            aged.serverStartedAt -= 100_000
            if case .notCommitted = try await load.verifyCommitted(aged, lineage: lineage) {} else {
                Issue.record("lineage proves the partition absent on a plain MergeTree")
            }
            try await load.commit(first)
            let verdict = try await load.verifyCommitted(aged, lineage: lineage)
            #expect(verdict == .committed(evidence: "300 rows with the load's lineage in partition 202501"))
            try await load.cleanup()
        }
    }

    @Test(arguments: LiveServers.names)
    func withoutEvidenceTheVerdictIsAmbiguousNeverARetry(server: String) async throws {
        try await LiveServers.withDatabase(server) { client, database in
            let target = try await Self.createTarget(client, database)
            let blocks = try Self.blocks(first: 0, rows: 300, blockRows: 300, lineage: nil)
            let load = try StagedLoad(client: client, target: target, loadID: "load_ambiguous")
            try await load.prepare()
            try await load.insert { writer in for block in blocks { try await writer.write(block) } }
            _ = try await load.seal()
            let intent = try await load.beginCommit(partition: "202502")
            #expect(intent.method == (server == "18.16" ? .attach : .move))
            try await load.commit(intent)
            // Drop the staging table and make every copy look older than the intent: nothing proves the commit.
            try await load.cleanup()
            var restarted = intent
            restarted.serverStartedAt -= 1000
            restarted.serverTime += 3600
            let verdict = try await load.verifyCommitted(restarted)
            guard case .ambiguous = verdict else {
                Issue.record("expected ambiguous, got \(verdict)")
                return
            }
        }
    }

    @Test(arguments: LiveServers.names)
    func deduplicationSettingsOfTheTargetNeverDropRows(server: String) async throws {
        try await LiveServers.withDatabase(server) { client, database in
            // 26.9 tables may deduplicate inserts (non_replicated_deduplication_window); the staging table copies
            // that setting, so two equal blocks of one file, and two files with equal content, must both stay.
            let settings = server == "18.16" ? "" : "SETTINGS non_replicated_deduplication_window = 100"
            let target = try await Self.createTarget(client, database, settings: settings)
            let block = try Self.blocks(first: 0, rows: 300, blockRows: 300, lineage: nil)[0]
            for loadID in ["load_a", "load_b"] {
                let load = try StagedLoad(client: client, target: target, loadID: loadID)
                try await load.prepare()
                try await load.insert { writer in
                    try await writer.write(block)
                    try await writer.write(block)
                }
                let manifest = try await load.seal()
                #expect(manifest.rows == 600, "both equal blocks are staged")
                for partition in manifest.partitions {
                    try await load.commit(try await load.beginCommit(partition: partition.id))
                }
                try await load.cleanup()
            }
            let rows = try await client.query("SELECT count() FROM \(target.sql) WHERE id < 1000000")
            #expect(rows == [["1200"]])
        }
    }

    @Test(arguments: LiveServers.names)
    func orphanedStagingTablesAreDiscarded(server: String) async throws {
        try await LiveServers.withDatabase(server) { client, database in
            let target = try await Self.createTarget(client, database)
            for loadID in ["load_old", "load_active"] {
                try await StagedLoad(client: client, target: target, loadID: loadID).prepare()
            }
            let none = try await StagedLoad.discardOrphanedStaging(
                client: client, databases: [database], olderThan: .seconds(3600), activeLoadIDs: [])
            #expect(none.isEmpty, "younger than the limit")
            try await Task.sleep(for: .milliseconds(1100))
            let dropped = try await StagedLoad.discardOrphanedStaging(
                client: client, databases: [database], olderThan: .zero, activeLoadIDs: ["load_active"])
            #expect(dropped == [TableName(database: database, table: "_sluice_stage_load_old")])
            let left = try await client.query("SELECT name FROM system.tables WHERE database = '\(database)' AND startsWith(name, '_sluice')")
            #expect(left == [["_sluice_stage_load_active"]])
        }
    }
}

@Suite("Staging engine clause")
struct StagingEngineTests {
    @Test func replicatedEnginesLoseTheirCoordinationArguments() throws {
        let cases = [
            ("ReplicatedMergeTree('/clickhouse/tables/{shard}/t', '{replica}') PARTITION BY toYYYYMM(ds) ORDER BY id",
             "MergeTree() PARTITION BY toYYYYMM(ds) ORDER BY id"),
            ("ReplicatedReplacingMergeTree('/p/t', 'r1', ver) ORDER BY id SETTINGS index_granularity = 8192",
             "ReplacingMergeTree(ver) ORDER BY id SETTINGS index_granularity = 8192"),
            ("ReplicatedSummingMergeTree('/p/t,x', 'r\\'1', (a, b)) ORDER BY id", "SummingMergeTree((a, b)) ORDER BY id"),
            ("ReplicatedMergeTree ORDER BY id", "MergeTree ORDER BY id"),
            ("ReplicatedMergeTree() ORDER BY id", "MergeTree() ORDER BY id"),
            ("MergeTree ORDER BY id", "MergeTree ORDER BY id"),
        ]
        for (input, expected) in cases {
            #expect(try StagedLoad.nonReplicatedEngine(input) == expected)
        }
    }
}
