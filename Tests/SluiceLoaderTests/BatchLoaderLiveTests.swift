import AWS
import ClickHouse
import Foundation
import SluiceCore
import SluiceIntake
import SluiceJournal
import SluiceLoader
import Synchronization
import Testing

/// S3 (moto) → BatchLoader → ClickHouse, on both servers, value by value.
@Suite("BatchLoader against moto and both ClickHouse servers", .enabled(if: Live.enabled, Live.reason), .serialized)
struct BatchLoaderLiveTests {
    static let batchTable = "id Int64, v Int64, s String, ds Date, _source_key String, _sluice_load_id String"

    static func key(_ n: Int) -> String { "market/events/ds=2025-09-10/part-\(n).parquet" }

    @Test(arguments: Live.servers)
    func aBatchLandsOnceWithPartitionValuesAndLineage(server: String) async throws {
        try await LoadHarness.with(server: server) { h in
            try await h.createTable(Self.batchTable, partitionBy: "intDiv(id, 100)", orderBy: "id")
            for n in 1...3 { try await h.put(Self.key(n), try Fixtures.bytes("batch_\(n).parquet")) }
            let running = try RunningJournal(path: h.journalPath)
            let batch = try await h.claim(running.journal, keys: (1...3).map(Self.key))
            let outcome = await h.loader(running.journal, configuration: Self.smallBlocks).load(batch)

            #expect(outcome.batchFailure == nil, "\(outcome)")
            for entry in batch.entries {
                guard case .loaded(let rows, let bytes, let version) = outcome.result(entry.correlationID) else {
                    Issue.record("\(entry.key): \(String(describing: outcome.result(entry.correlationID)))")
                    continue
                }
                #expect(rows == 10)
                #expect(bytes == 1771)
                #expect(version.hasPrefix("e:"))
                let (stored, history) = try #require(try await running.journal.entry(correlationID: entry.correlationID))
                #expect(stored.state == .loaded)
                #expect(stored.objectVersion == version)
                #expect(stored.rowsLoaded == 10)
                #expect(history.last?.to == .loaded)
                let ledger = try #require(try await running.journal.ledgerRecord(bucket: h.bucket, key: entry.key, version: version))
                #expect(ledger.rows == 10)
                #expect(ledger.target == h.table)
                #expect(ledger.loadID == batch.loadID)
            }
            let rows = try await h.query("SELECT id, v, s, ds, _source_key FROM \(h.database).events ORDER BY id")
            #expect(rows == (1...3).flatMap { expectedBatchRows($0, key: Self.key($0)) })
            let lineage = try await h.query("SELECT uniqExact(_sluice_load_id), any(_sluice_load_id) FROM \(h.database).events")
            #expect(lineage.first?.first == "1")
            #expect(lineage.first?.last?.hasPrefix("\(batch.loadID)_") == true)
            #expect(try await h.query("SELECT count() FROM system.parts WHERE database = '\(h.database)' AND table = 'events' AND active")
                .first?.first.flatMap(Int.init) ?? 0 >= 3)
            #expect(try await h.stagingTables().isEmpty)
            await running.close()
        }
    }

    /// Two replicas on one SQS queue: A loads a file and stops before deleting its message; SQS gives the message to B,
    /// which has never seen it (redelivered). B finds the version's rows through the lineage columns, inserts nothing
    /// and records the file as loaded. A redelivered file that is not in the table is loaded.
    @Test(arguments: Live.servers)
    func aRedeliveredFileAnotherReplicaLoadedIsNotLoadedAgain(server: String) async throws {
        try await LoadHarness.with(server: server) { h in
            try await h.createTable(
                "id Int64, v Int64, s String, ds Date, _source_key String, _source_etag LowCardinality(String)",
                partitionBy: "intDiv(id, 100)", orderBy: "id")
            var etags: [Int: String] = [:]
            for n in 1...3 { etags[n] = try await h.put(Self.key(n), try Fixtures.bytes("batch_\(n).parquet")).eTag }
            let replicaA = try RunningJournal(path: h.journalPath)
            let first = try await h.claim(replicaA.journal, keys: [Self.key(1)])
            #expect(await h.loader(replicaA.journal).load(first).batchFailure == nil)
            await replicaA.close()

            let replicaB = try RunningJournal(path: h.journalPath.replacingOccurrences(of: "journal.db", with: "replica-b.db"))
            var redelivered: [QueuedFile] = []
            for n in 1...3 {
                var file = try h.queued(Self.key(n))
                file.redelivered = true
                redelivered.append(file)
            }
            guard case .accepted = try await replicaB.journal.enqueue(redelivered) else { throw SimulatedCrash() }
            let loaderB = h.loader(replicaB.journal)
            let again = try #require(try await replicaB.journal.claimNext())
            #expect(again.entries.map(\.key) == [Self.key(1)])
            #expect(again.entries.first?.redelivered == true)
            let outcome = await loaderB.load(again)
            #expect(outcome.batchFailure == nil, "\(outcome)")
            #expect(outcome.result(redelivered[0].correlationID) == .duplicate(of: "the rows already in \(h.table)"))
            let (entry, history) = try #require(try await replicaB.journal.entry(correlationID: redelivered[0].correlationID))
            #expect(entry.state == .loaded)
            #expect(entry.rowsLoaded == 10)
            let reason = try #require(history.last?.message)
            #expect(reason.contains("10 rows with this version's lineage (_source_etag, _source_key)"), "\(reason)")
            let version = try #require(entry.objectVersion)
            let ledger = try #require(try await replicaB.journal.ledgerRecord(bucket: h.bucket, key: Self.key(1), version: version))
            #expect(ledger.loadID == "found")
            #expect(ledger.rows == 10)
            #expect(try await h.query("SELECT count() FROM \(h.database).events") == [["10"]])
            #expect(try await h.stagingTables().isEmpty)

            let second = try #require(try await replicaB.journal.claimNext())
            #expect(second.entries.map(\.key) == [Self.key(2)])
            guard case .loaded(let rows, _, _) = await loaderB.load(second).result(redelivered[1].correlationID) else {
                Issue.record("the redelivered file that no replica loaded was not loaded")
                return
            }
            #expect(rows == 10)
            let rowsNow = try await h.query("SELECT id, v, s, ds, _source_key FROM \(h.database).events ORDER BY id")
            #expect(rowsNow == (1...2).flatMap { expectedBatchRows($0, key: Self.key($0)) })

            // Part of file 3 is in the table (another replica committed one of its partitions and stopped): loading it
            // would duplicate those rows, so it fails for a person to check. Rows with its lineage under another `ds`
            // (the key's Hive partition) cannot be the file's: the lookup is narrowed to ds = 2025-09-10 and does not
            // count them.
            let etag = try #require(etags[3]).replacingOccurrences(of: "\"", with: "")
            try await h.clickhouse.execute(
                "INSERT INTO \(h.database).events SELECT number + 1000, 0, '', toDate('2025-09-10'), '\(Self.key(3))', '\(etag)' FROM system.numbers LIMIT 3")
            try await h.clickhouse.execute(
                "INSERT INTO \(h.database).events SELECT number + 2000, 0, '', toDate('2025-01-01'), '\(Self.key(3))', '\(etag)' FROM system.numbers LIMIT 7")
            let third = try #require(try await replicaB.journal.claimNext())
            let partial = await loaderB.load(third).result(redelivered[2].correlationID)
            let error = try #require(partial?.error, "\(String(describing: partial))")
            #expect(error.code == .databaseUnavailable)
            #expect(error.message.contains("3 of its 10 rows are already in \(h.table)"), "\(error.message)")
            #expect(try await h.query("SELECT count() FROM \(h.database).events") == [["30"]])
            await replicaB.close()
        }
    }

    /// Lists, maps, structs, lists of structs, nulls at every level, a Hive partition column and a lineage column.
    @Test(arguments: Live.servers)
    func nestedColumnsAndHivePartitionsLandValueByValue(server: String) async throws {
        try await LoadHarness.with(server: server) { h in
            let modern = """
                id Int64, name Nullable(String), tags Array(String), scores Array(Nullable(Int32)), attrs Map(String, Nullable(Int64)),
                point Tuple(x Nullable(Float64), y Nullable(Float64)), items Array(Tuple(a Nullable(Int32), b Array(String))),
                ds Date, region String, _source_key String
                """
            let old = """
                id Int64, name Nullable(String), tags Array(String), scores Array(Nullable(Int32)),
                point Tuple(Nullable(Float64), Nullable(Float64)), items Array(Tuple(Nullable(Int32), Array(String))),
                ds Date, region String, _source_key String
                """
            try await h.createTable(server == "18.16" ? old : modern, partitionBy: "(ds, region)", orderBy: "id")
            let key = "market/events/ds=2025-09-11/region=eu%2Dwest/nested.parquet"
            try await h.put(key, try Fixtures.bytes("nested.parquet"))
            let running = try RunningJournal(path: h.journalPath)
            let batch = try await h.claim(running.journal, keys: [key])
            var configuration = LoadConfiguration()
            configuration.blockRows = 1
            let outcome = await h.loader(running.journal, configuration: configuration).load(batch)
            #expect(outcome.files.map(\.result.label) == ["loaded"], "\(outcome)")
            #expect(outcome.rowsLoaded == 6)

            if server == "18.16" {
                let rows = try await h.query(
                    "SELECT id, name, tags, scores, point, `items.1`, `items.2`, ds, region, _source_key FROM \(h.database).events ORDER BY id")
                #expect(rows == [
                    ["1", "a", "['x','y']", "[1,NULL,3]", "(1.5,-2)", "[1,NULL]", "[['p','q'],[]]", "2025-09-11", "eu-west", key],
                    ["2", "\\N", "[]", "[4]", "(NULL,NULL)", "[]", "[]", "2025-09-11", "eu-west", key],
                    ["3", "c", "[]", "[]", "(NULL,3.25)", "[]", "[]", "2025-09-11", "eu-west", key],
                    ["4", "d\te", "['z']", "[]", "(0,0)", "[2]", "[[]]", "2025-09-11", "eu-west", key],
                    ["5", "", "['','w']", "[5,6]", "(7,8)", "[3]", "[['r']]", "2025-09-11", "eu-west", key],
                    ["6", "f", "['v']", "[7]", "(-1,1)", "[4]", "[['s','t','u']]", "2025-09-11", "eu-west", key],
                ])
            } else {
                let rows = try await h.query(
                    "SELECT id, name, tags, scores, attrs, point, items, ds, region, _source_key FROM \(h.database).events ORDER BY id")
                #expect(rows == [
                    ["1", "a", "['x','y']", "[1,NULL,3]", "{'k':1,'n':NULL}", "(1.5,-2)", "[(1,['p','q']),(NULL,[])]", "2025-09-11", "eu-west", key],
                    ["2", "\\N", "[]", "[4]", "{}", "(NULL,NULL)", "[]", "2025-09-11", "eu-west", key],
                    ["3", "c", "[]", "[]", "{}", "(NULL,3.25)", "[]", "2025-09-11", "eu-west", key],
                    ["4", "d\te", "['z']", "[]", "{'a':2}", "(0,0)", "[(2,[])]", "2025-09-11", "eu-west", key],
                    ["5", "", "['','w']", "[5,6]", "{'b':3,'c':4}", "(7,8)", "[(3,['r'])]", "2025-09-11", "eu-west", key],
                    ["6", "f", "['v']", "[7]", "{'d':5}", "(-1,1)", "[(4,['s','t','u'])]", "2025-09-11", "eu-west", key],
                ])
            }
            #expect(try await h.stagingTables().isEmpty)
            await running.close()
        }
    }

    /// Corpus files through S3 and the loader equal 26.9's own `INSERT ... FORMAT Parquet` of the same file, row by
    /// row, on both servers (types both servers have).
    @Test(.enabled(if: Fixtures.corpusEnabled, "needs the corpus (SLUICE_CORPUS)"), arguments: Live.servers)
    func corpusFilesEqualTheServersOwnImport(server: String) async throws {
        let names = try FileManager.default.contentsOfDirectory(atPath: Fixtures.corpusData.path)
        let candidates = names.filter { $0.hasSuffix(".parquet") && names.contains($0 + ".expected.jsonl") }.sorted()
        #expect(!candidates.isEmpty, "corpus files at \(Fixtures.corpusData.path)")
        let reference = try Live.clickhouse("26.9")
        let referenceDatabase = Live.uniqueName("sluice_loader_ref_")
        try await reference.execute("CREATE DATABASE \(referenceDatabase)")
        var compared: [String] = []
        try await LoadHarness.with(server: server) { h in
            let running = try RunningJournal(path: h.journalPath)
            let loader = h.loader(running.journal)
            for (number, name) in candidates.enumerated() {
                let bytes = try [UInt8](Data(contentsOf: Fixtures.corpusData.appendingPathComponent(name)))
                guard bytes.count < 1 << 20, let definitions = columnDefinitions(bytes, modern: server != "18.16") else { continue }
                let twin = "\(referenceDatabase).twin\(number)"
                try await reference.execute("CREATE TABLE \(twin) (\(definitions)) ENGINE = Memory")
                do {
                    try await reference.insert("INSERT INTO \(twin) FORMAT Parquet") { writer in try await writer.write(bytes) }
                } catch {
                    continue  // the server's own import refuses the file: nothing to compare with
                }
                let table = "corpus\(number)"
                try await h.clickhouse.execute("CREATE TABLE \(h.database).\(table) (\(definitions)) ENGINE = MergeTree ORDER BY tuple()")
                let key = "market/\(table)/\(name)"
                try await h.put(key, bytes)
                var entry = try h.queued(key)
                entry.target = TableReference(database: h.database, table: table)
                guard case .accepted = try await running.journal.enqueue([entry]) else { Issue.record("not queued"); continue }
                let batch = try #require(try await running.journal.claimNext())
                let outcome = await loader.load(batch)
                guard case .loaded(let rows, _, _) = outcome.files.first?.result else {
                    Issue.record("\(name): \(outcome)")
                    continue
                }
                // 18.16 prints decimals with all their scale's digits; 26.9 only does so when asked.
                let trailingZeros = ["output_format_decimal_trailing_zeros": "1"]
                let ours = try await h.clickhouse.query("SELECT * FROM \(h.database).\(table)", settings: server == "18.16" ? [:] : trailingZeros)
                    .sorted { $0.lexicographicallyPrecedes($1) }
                let theirs = try await reference.query("SELECT * FROM \(twin)", settings: trailingZeros)
                    .sorted { $0.lexicographicallyPrecedes($1) }
                #expect(Int64(ours.count) == rows, "\(name)")
                #expect(ours == theirs, "\(name) on \(server)")
                compared.append(name)
            }
            await running.close()
        }
        try? await reference.execute("DROP DATABASE IF EXISTS \(referenceDatabase)")
        try? await reference.shutdown()
        #expect(compared.count >= (server == "18.16" ? 10 : 25), "compared: \(compared)")
    }

    /// Files that fail on their own before the insert leave the batch with their code; the others load.
    @Test(arguments: Live.servers)
    func badFilesLeaveTheBatchWithTheirCodeAndTheRestLoads(server: String) async throws {
        try await LoadHarness.with(server: server) { h in
            try await h.createTable(Self.batchTable, partitionBy: "intDiv(id, 100)", orderBy: "id")
            let keys = [
                Self.key(1), "market/events/ds=2025-09-10/not-parquet.parquet", Self.key(2),
                "market/events/ds=2025-09-10/bad-footer.parquet", "market/events/ds=2025-09-10/mismatch.parquet",
                "market/events/ds=2025-09-10/missing.parquet", Self.key(3),
            ]
            try await h.put(keys[0], try Fixtures.bytes("batch_1.parquet"))
            try await h.put(keys[1], Array("this is a CSV file, not Parquet\n1,2,3\n".utf8) + Array(repeating: 0x2C, count: 2000))
            try await h.put(keys[2], try Fixtures.bytes("batch_2.parquet"))
            try await h.put(keys[3], try Fixtures.bytes("bad_footer.parquet"))
            try await h.put(keys[4], try Fixtures.bytes("mismatch.parquet"))
            try await h.put(keys[6], try Fixtures.bytes("batch_3.parquet"))
            let running = try RunningJournal(path: h.journalPath)
            let batch = try await h.claim(running.journal, keys: keys)
            let outcome = await h.loader(running.journal).load(batch)

            #expect(outcome.batchFailure == nil)
            func failure(_ key: String) -> SluiceError? { outcome.result(batch.correlationID(key))?.error }
            #expect(failure(keys[1])?.code == .unsupportedFormat)
            #expect(failure(keys[1])?.message.contains("not a Parquet file") == true)
            #expect(failure(keys[3])?.code == .parseFailure)
            #expect(failure(keys[3])?.category == .parse)
            let mismatch = try #require(failure(keys[4]))
            #expect(mismatch.code == .parseFailure)
            #expect(mismatch.category == .schema)
            #expect(mismatch.message.contains("id (Parquet") && mismatch.message.contains("v (Parquet -"), "\(mismatch.message)")
            #expect(failure(keys[5])?.category == .notFound)
            for key in [keys[1], keys[3], keys[4], keys[5]] {
                guard case .failed(_, let detached)? = outcome.result(batch.correlationID(key)) else { continue }
                #expect(detached)
                let (entry, _) = try #require(try await running.journal.entry(correlationID: batch.correlationID(key)))
                #expect(entry.loadID == nil, "detached from the batch")
                #expect(entry.state == .loading, "the scheduler records the failure")
            }
            #expect(outcome.failures.count == 4)
            #expect(outcome.rowsLoaded == 30)
            let rows = try await h.query("SELECT id, v, s, ds, _source_key FROM \(h.database).events ORDER BY id")
            #expect(rows == expectedBatchRows(1, key: keys[0]) + expectedBatchRows(2, key: keys[2]) + expectedBatchRows(3, key: keys[6]))
            await running.close()
        }
    }

    /// A corrupt page (file 3 of 5) and a NULL in a non-Nullable column (file 5 of 5) appear only during the insert:
    /// the batch is staged again without them, under the same load id, and nothing partial reaches the table.
    @Test(arguments: Live.servers)
    func dataErrorsDuringTheInsertRestageTheBatchWithoutTheFile(server: String) async throws {
        try await LoadHarness.with(server: server) { h in
            try await h.createTable(Self.batchTable, partitionBy: "intDiv(id, 100)", orderBy: "id")
            let keys = (1...5).map(Self.key)
            try await h.put(keys[0], try Fixtures.bytes("batch_1.parquet"))
            try await h.put(keys[1], try Fixtures.bytes("batch_2.parquet"))
            try await h.put(keys[2], try Fixtures.bytes("corrupt_page.parquet"))
            try await h.put(keys[3], try Fixtures.bytes("batch_4.parquet"))
            try await h.put(keys[4], try Fixtures.bytes("null_in_v.parquet"))
            let running = try RunningJournal(path: h.journalPath)
            let batch = try await h.claim(running.journal, keys: keys)
            let outcome = await h.loader(running.journal, configuration: Self.smallBlocks).load(batch)

            #expect(outcome.batchFailure == nil, "\(outcome)")
            #expect(outcome.files.map(\.result.label) == ["loaded", "loaded", "failed", "loaded", "failed"])
            let corrupt = try #require(outcome.result(batch.correlationID(keys[2]))?.error)
            #expect(corrupt.code == .parseFailure)
            #expect(corrupt.message.contains("row group 1"), "\(corrupt.message)")
            let null = try #require(outcome.result(batch.correlationID(keys[4]))?.error)
            #expect(null.code == .parseFailure)
            #expect(null.category == .schema)
            #expect(null.message.contains("NULL"), "\(null.message)")
            let rows = try await h.query("SELECT id, v, s, ds, _source_key FROM \(h.database).events ORDER BY id")
            #expect(rows == expectedBatchRows(1, key: keys[0]) + expectedBatchRows(2, key: keys[1]) + expectedBatchRows(4, key: keys[3]))
            let progress = try #require(try await running.journal.loadProgress(loadID: batch.loadID))
            let record = try #require(LoadProgressRecord.decode(progress))
            #expect(record.files.map(\.key) == [keys[0], keys[1], keys[3]])
            #expect(record.ledger.done)
            #expect(try await h.stagingTables().isEmpty)
            await running.close()
        }
    }

    /// The same version again is a duplicate (nothing inserted); a new version of the key loads, or is skipped with
    /// `ledger.on_new_version: skip`; two entries of one version in one batch load once.
    @Test(arguments: Live.servers)
    func duplicatesAndNewVersions(server: String) async throws {
        try await LoadHarness.with(server: server) { h in
            try await h.createTable(Self.batchTable, partitionBy: "intDiv(id, 100)", orderBy: "id")
            let key = Self.key(1)
            try await h.put(key, try Fixtures.bytes("batch_1.parquet"))
            let running = try RunningJournal(path: h.journalPath)
            let loader = h.loader(running.journal)
            func count() async throws -> [[String]] { try await h.query("SELECT count(), sum(id) FROM \(h.database).events") }

            let first = try await h.claim(running.journal, keys: [key, key])
            let firstOutcome = await loader.load(first)
            #expect(firstOutcome.files.map(\.result.label) == ["loaded", "duplicate"])
            #expect(firstOutcome.files[1].result == .duplicate(of: first.entries[0].correlationID))
            #expect(try await count() == [["10", "1045"]])

            let again = try await h.claim(running.journal, keys: [key])
            let againOutcome = await loader.load(again)
            #expect(againOutcome.files.first?.result == .duplicate(of: first.entries[0].correlationID))
            #expect(try await count() == [["10", "1045"]])
            let (entry, history) = try #require(try await running.journal.entry(correlationID: again.entries[0].correlationID))
            #expect(entry.state == .loaded)
            #expect(history.last?.message == "duplicate of \(first.entries[0].correlationID)")

            try await h.put(key, try Fixtures.bytes("batch_2.parquet"))
            let newVersion = try await h.claim(running.journal, keys: [key])
            let newOutcome = await loader.load(newVersion)
            guard case .loaded(let rows, _, let version)? = newOutcome.files.first?.result else {
                Issue.record("\(newOutcome)")
                return
            }
            #expect(rows == 10)
            #expect(try await running.journal.ledgerRecords(bucket: h.bucket, key: key).count == 2)
            #expect(version != firstOutcome.files.first.flatMap { if case .loaded(_, _, let v) = $0.result { v } else { nil } })
            #expect(try await count() == [["20", "3090"]])

            try await h.put(key, try Fixtures.bytes("batch_3.parquet"))
            var skipping = LoadConfiguration()
            skipping.onNewVersion = .skip
            let skipped = try await h.claim(running.journal, keys: [key])
            let skippedOutcome = await h.loader(running.journal, configuration: skipping).load(skipped)
            guard case .skipped(let reason)? = skippedOutcome.files.first?.result else {
                Issue.record("\(skippedOutcome)")
                return
            }
            #expect(reason.contains("ledger.on_new_version is skip"))
            #expect(try await count() == [["20", "3090"]])
            await running.close()
        }
    }

    /// An object over `s3.max_object_bytes` is refused from its HeadObject: not one byte is read. One not larger than
    /// `intake.min_size` is skipped.
    @Test(arguments: Live.servers)
    func sizeLimitsAreCheckedBeforeAnyDownload(server: String) async throws {
        try await LoadHarness.with(server: server, maxObjectBytes: 1000) { h in
            try await h.createTable(Self.batchTable)
            try await h.put(Self.key(1), try Fixtures.bytes("batch_1.parquet"))
            try await h.put(Self.key(2), try Fixtures.bytes("mismatch.parquet"))
            let running = try RunningJournal(path: h.journalPath)
            let batch = try await h.claim(running.journal, keys: [Self.key(1), Self.key(2)])
            let store = CountingStore(S3ObjectStore(s3: h.s3))
            let outcome = await h.loader(running.journal, minimumObjectBytes: 700, objects: store).load(batch)
            let tooLarge = try #require(outcome.files[0].result.error)
            #expect(tooLarge.code == .unsupportedFormat)
            #expect(tooLarge.message.contains("s3.max_object_bytes"))
            #expect(store.opens.withLock { $0 } == 1, "the oversize object was refused by its HeadObject")
            guard case .skipped(let reason) = outcome.files[1].result else {
                Issue.record("\(outcome.files[1])")
                return
            }
            #expect(reason.contains("intake.min_size"))
            #expect(store.reads.withLock { $0 } == 0, "no GET of either object")
            #expect(try await h.query("SELECT count() FROM \(h.database).events") == [["0"]])
            #expect(try await h.stagingTables().isEmpty)
            await running.close()
        }
    }

    /// A missing table, and a server that cannot be reached, fail the whole batch with the category that drives
    /// the retry policy; the entries keep the batch's load id.
    @Test(arguments: Live.servers)
    func batchWideFailuresKeepTheBatch(server: String) async throws {
        try await LoadHarness.with(server: server) { h in
            try await h.put(Self.key(1), try Fixtures.bytes("batch_1.parquet"))
            try await h.put(Self.key(2), try Fixtures.bytes("batch_2.parquet"))
            let running = try RunningJournal(path: h.journalPath)
            let batch = try await h.claim(running.journal, keys: [Self.key(1), Self.key(2)])
            let missing = await h.loader(running.journal).load(batch)
            let error = try #require(missing.batchFailure)
            #expect(error.category == .schema)
            #expect(error.code == .parseFailure)
            #expect(error.message.contains("does not exist"))
            #expect(missing.files.allSatisfy { $0.result == .failed(error, detached: false) })

            let unreachable = ClickHouseClient(configuration: try ClickHouseConfiguration(url: "http://127.0.0.1:1"), logger: Live.logger)
            let refused = await h.loader(running.journal, clickhouse: unreachable).load(batch)
            try await unreachable.shutdown()
            #expect(refused.batchFailure?.category == .connection)
            #expect(refused.batchFailure?.code == .connection)
            for entry in batch.entries {
                let (stored, _) = try #require(try await running.journal.entry(correlationID: entry.correlationID))
                #expect(stored.loadID == batch.loadID)
            }
            await running.close()
        }
    }

    /// With `clickhouse.parquet_passthrough`, 26.9 decodes the Parquet file itself; 18.16 cannot and the Native path
    /// is used. Same rows either way, through the same exactly-once steps.
    @Test(arguments: Live.servers)
    func parquetPassthroughLoadsTheSameRows(server: String) async throws {
        try await LoadHarness.with(server: server) { h in
            try await h.createTable(Self.batchTable, partitionBy: "intDiv(id, 100)", orderBy: "id")
            try await h.put(Self.key(1), try Fixtures.bytes("batch_1.parquet"))
            try await h.put(Self.key(2), try Fixtures.bytes("batch_2.parquet"))
            let running = try RunningJournal(path: h.journalPath)
            let batch = try await h.claim(running.journal, keys: [Self.key(1), Self.key(2)])
            var configuration = LoadConfiguration()
            configuration.parquetPassthrough = true
            let outcome = await h.loader(running.journal, configuration: configuration).load(batch)
            #expect(outcome.files.map(\.result.label) == ["loaded", "loaded"], "\(outcome)")
            #expect(outcome.rowsLoaded == 20)
            let rows = try await h.query("SELECT id, v, s, ds, _source_key FROM \(h.database).events ORDER BY id")
            #expect(rows == expectedBatchRows(1, key: Self.key(1)) + expectedBatchRows(2, key: Self.key(2)))
            #expect(try await h.query("SELECT uniqExact(_sluice_load_id) FROM \(h.database).events") == [["1"]])
            await running.close()
        }
    }

    /// An event that named an ETag the object no longer has: the version it announced is gone; skipped.
    @Test(arguments: ["26.9"])
    func anObjectReplacedSinceItsEventIsSkipped(server: String) async throws {
        try await LoadHarness.with(server: server) { h in
            try await h.createTable(Self.batchTable)
            try await h.put(Self.key(1), try Fixtures.bytes("batch_1.parquet"))
            let running = try RunningJournal(path: h.journalPath)
            let batch = try await h.claim(running.journal, keys: [Self.key(1)], etags: ["\"0123456789abcdef0123456789abcdef\""])
            let outcome = await h.loader(running.journal).load(batch)
            guard case .skipped(let reason)? = outcome.files.first?.result else {
                Issue.record("\(outcome)")
                return
            }
            #expect(reason.contains("replaced"))
            #expect(try await h.query("SELECT count() FROM \(h.database).events") == [["0"]])
            await running.close()
        }
    }

    /// While a load runs, the same load cannot start again (a cancelled attempt may still be unwinding), and another
    /// batch holding the same object version does not load it a second time.
    @Test(arguments: ["26.9"])
    func aRunningLoadAndItsVersionsAreNotLoadedTwiceAtOnce(server: String) async throws {
        try await LoadHarness.with(server: server) { h in
            try await h.createTable(Self.batchTable, partitionBy: "intDiv(id, 100)", orderBy: "id")
            try await h.put(Self.key(1), try Fixtures.bytes("batch_1.parquet"))
            let running = try RunningJournal(path: h.journalPath)
            let first = try await h.claim(running.journal, keys: [Self.key(1)])
            let second = try await h.claim(running.journal, keys: [Self.key(1)])
            let (paused, resume) = AsyncStream<Void>.makeStream()
            let (reached, signal) = AsyncStream<Void>.makeStream()
            var loader = h.loader(running.journal)
            loader.faults = { point in
                guard point == .progressSaved(1) else { return }
                signal.yield()
                for await _ in paused { break }
            }
            let blocked = loader
            let firstRun = Task { await blocked.load(first) }
            for await _ in reached { break }

            let again = await loader.load(first)
            #expect(again.batchFailure?.category == .timeout)
            #expect(again.batchFailure?.message.contains("still running") == true)
            let other = await loader.load(second)
            let error = try #require(other.files.first?.result.error)
            #expect(error.category == .timeout)
            #expect(error.message.contains("is being loaded by load \(first.loadID)"), "\(error.message)")

            resume.yield()
            resume.finish()
            let outcome = await firstRun.value
            #expect(outcome.files.map(\.result.label) == ["loaded"], "\(outcome)")
            #expect(try await h.query("SELECT count() FROM \(h.database).events") == [["10"]])
            await running.close()
        }
    }

    /// Small blocks, so that every file is several blocks.
    static var smallBlocks: LoadConfiguration {
        var configuration = LoadConfiguration()
        configuration.blockRows = 3
        return configuration
    }
}
