import AWS
import AsyncHTTPClient
import ClickHouse
import Foundation
import Logging
import NIOHTTP1
import Testing

/// The seed's integration flow, error handling and fault tests, against `sluice serve`, moto and both
/// ClickHouse servers.
@Suite("Pipeline end to end", .enabled(if: Servers.available, "needs moto, ClickHouse and the sluice binary"), .serialized)
struct PipelineTests {
    @Test("S3 put → EventBridge POST → rows, exactly once", arguments: Servers.clickhouseNames)
    func eventFlow(server name: String) async throws {
        let world = try await PipelineWorld(server: name)
        do {
            try await world.createPricesTable()
            let files = try world.makeFiles(count: 4, rows: 50)
            let server = try await world.start()
            for (i, body) in files.enumerated() {
                let key = "market/prices/ds=2025-09-1\(i % 2)/part-\(i).parquet"
                let etag = try await world.put(key, body)
                let r = try await http(.shared, .POST, "\(server.url)/v1/events", body: world.event(key, size: body.count, etag: etag))
                #expect(r.status == 202)
            }
            let statuses = try await world.waitUntilSettled(server)
            #expect(statuses == ["loaded": 4])
            #expect(try await world.count() == 200)
            let partitions = try await world.clickhouse.query("SELECT toString(ds), count() FROM \(world.database).prices GROUP BY ds ORDER BY ds")
            #expect(partitions == [["2025-09-10", "100"], ["2025-09-11", "100"]])
            // A redelivery after the load: duplicate, nothing inserted.
            let key = "market/prices/ds=2025-09-10/part-0.parquet"
            let etag = try await world.put(key, files[0])
            let again = try await http(.shared, .POST, "\(server.url)/v1/events", body: world.event(key, size: files[0].count, etag: etag))
            #expect(again.status == 200)
            #expect(again.json["status"] as? String == "duplicate")
            #expect(try await world.count() == 200)
            let metrics = try await http(.shared, .GET, "\(server.url)/metrics")
            #expect(metrics.body.contains("sluice_rows_loaded_total{domain=\"market\",table=\"\(world.database).prices\"} 200"))
        } catch {
            await world.close()
            throw error
        }
        await world.close()
    }

    @Test("A manual load with wait=true answers with the result", arguments: Servers.clickhouseNames)
    func manualLoad(server name: String) async throws {
        let world = try await PipelineWorld(server: name)
        do {
            try await world.createPricesTable()
            let file = try world.makeFiles(count: 1, rows: 30)[0]
            try await world.put("market/prices/ds=2025-09-12/manual.parquet", file)
            let server = try await world.start()
            let r = try await http(
                .shared, .POST, "\(server.url)/v1/loads?wait=true&timeout_s=60",
                body: "{\"uri\":\"s3://\(world.bucket)/market/prices/ds=2025-09-12/manual.parquet\"}"
            )
            #expect(r.status == 200)
            #expect(r.json["status"] as? String == "loaded")
            #expect(r.json["rows"] as? Int == 30)
            #expect(try await world.count() == 30)
        } catch {
            await world.close()
            throw error
        }
        await world.close()
    }

    @Test("The same through SQS: journaled, loaded, then deleted", arguments: Servers.clickhouseNames)
    func sqsFlow(server name: String) async throws {
        let world = try await PipelineWorld(server: name)
        do {
            try await world.createPricesTable()
            let queueURL = try await world.aws.sqs.createQueue(name: "dev-market-load-queue-\(world.database)", logger: world.logger)
            let files = try world.makeFiles(count: 3, rows: 20)
            for (i, body) in files.enumerated() {
                let key = "market/prices/ds=2025-09-10/sqs-\(i).parquet"
                try await world.put(key, body)
                let message = "{\"bucket\":\"\(world.bucket)\",\"key\":\"\(key)\",\"domain\":\"\",\"table_name\":\"\",\"partition\":\"\",\"file_size\":\(body.count),\"correlation_id\":\"sqs-\(world.database)-\(i)\"}"
                _ = try await world.aws.sqs.sendMessage(queueURL: queueURL, body: message, logger: world.logger)
            }
            let server = try await world.start(extra: "sqs:\n  queue_urls: [\"\(queueURL)\"]\n  wait_time_s: 1\n  extend_interval_s: 1\n  visibility_timeout_s: 60\n")
            let deadline = ContinuousClock.now + .seconds(90)
            while try await world.count() < 60, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(250)) }
            #expect(try await world.count() == 60)
            // Loaded messages are deleted once their rows are committed.
            var remaining = -1
            while ContinuousClock.now < deadline {
                let attributes = try await world.aws.sqs.getQueueAttributes(queueURL: queueURL, logger: world.logger)
                remaining = (Int(attributes["ApproximateNumberOfMessages"] ?? "") ?? 0) + (Int(attributes["ApproximateNumberOfMessagesNotVisible"] ?? "") ?? 0)
                if remaining == 0 { break }
                try await Task.sleep(for: .milliseconds(250))
            }
            #expect(remaining == 0)
            let load = try await http(.shared, .GET, "\(server.url)/v1/loads/sqs-\(world.database)-1")
            #expect(load.json["status"] as? String == "loaded")
            #expect(load.json["source"] as? String == "sqs_message")
        } catch {
            await world.close()
            throw error
        }
        await world.close()
    }

    @Test("A missing table is a schema error: dead-lettered at once, and replay after the fix loads once", arguments: Servers.clickhouseNames)
    func replayAfterFix(server name: String) async throws {
        let world = try await PipelineWorld(server: name)
        do {
            let file = try world.makeFiles(count: 1, rows: 25)[0]
            let key = "market/prices/ds=2025-09-10/late.parquet"
            let etag = try await world.put(key, file)
            let server = try await world.start()
            #expect(try await http(.shared, .POST, "\(server.url)/v1/events", body: world.event(key, size: file.count, etag: etag)).status == 202)
            #expect(try await world.waitUntilSettled(server) == ["dead_lettered": 1])
            let dlq = try await http(.shared, .GET, "\(server.url)/v1/dlq")
            let letter = try #require((dlq.json["dead_letters"] as? [[String: Any]])?.first)
            #expect(letter["code"] as? String == "E003")
            let id = try #require(letter["id"] as? Int)
            let (entryStatus, _) = (try await http(.shared, .GET, "\(server.url)/v1/dlq/\(id)").json["load"] as? [String: Any], 0)
            #expect((entryStatus?["attempts"] as? Int) == 1)

            try await world.createPricesTable()
            #expect(try await http(.shared, .POST, "\(server.url)/v1/dlq/\(id)/replay", body: "").status == 202)
            #expect(try await world.waitUntilSettled(server) == ["loaded": 1])
            #expect(try await world.count() == 25)
        } catch {
            await world.close()
            throw error
        }
        await world.close()
    }

    @Test("ClickHouse unreachable: the connection schedule, then the DLQ; replay once it is back", arguments: ["26.9"])
    func clickhouseDownThenReplay(server name: String) async throws {
        let world = try await PipelineWorld(server: name)
        do {
            try await world.createPricesTable()
            let file = try world.makeFiles(count: 1, rows: 10)[0]
            let key = "market/prices/ds=2025-09-10/down.parquet"
            let etag = try await world.put(key, file)
            // Nothing listens on the discard port of loopback: connections are refused. Short backoffs keep the test fast.
            let loader = "loader:\n  workers: 1\n  batch_wait_s: 0\n  poll_interval_ms: 50\n  retry:\n    connection_backoff_s: [0.5, 1, 2]\n"
            var server = try await world.start(loader: loader, clickhouseURL: "http://127.0.0.1:9")
            _ = try await http(.shared, .POST, "\(server.url)/v1/events", body: world.event(key, size: file.count, etag: etag))
            #expect(try await world.waitUntilSettled(server, timeout: .seconds(60)) == ["dead_lettered": 1])
            let dlq = try await http(.shared, .GET, "\(server.url)/v1/dlq")
            let letter = try #require((dlq.json["dead_letters"] as? [[String: Any]])?.first)
            #expect(letter["code"] as? String == "E004")
            let id = try #require(letter["id"] as? Int)
            let detail = try await http(.shared, .GET, "\(server.url)/v1/dlq/\(id)")
            let history = ((detail.json["load"] as? [String: Any])?["history"] as? [[String: Any]]) ?? []
            #expect(history.filter { $0["event"] as? String == "claim" }.count == 3)
            #expect(history.filter { $0["event"] as? String == "fail_retryable" }.count == 3)
            _ = server.terminate()

            server = try await world.start(loader: loader)
            #expect(try await http(.shared, .POST, "\(server.url)/v1/dlq/\(id)/replay", body: "").status == 202)
            #expect(try await world.waitUntilSettled(server) == ["loaded": 1])
            #expect(try await world.count() == 10)
        } catch {
            await world.close()
            throw error
        }
        await world.close()
    }

    @Test("kill -9 five times while 200 files load: every file exactly once, nothing dead-lettered", arguments: Servers.clickhouseNames)
    func killNineWhileLoading(server name: String) async throws {
        let world = try await PipelineWorld(server: name)
        do {
            try await world.createPricesTable()
            let files = try world.makeFiles(count: 200, rows: 5)
            var keys: [(String, Int, String)] = []
            for (i, body) in files.enumerated() {
                let key = "market/prices/ds=2025-09-1\(i % 3)/k-\(i).parquet"
                keys.append((key, body.count, try await world.put(key, body)))
            }
            var server = try await world.start()
            for (key, size, etag) in keys {
                #expect(try await http(.shared, .POST, "\(server.url)/v1/events", body: world.event(key, size: size, etag: etag)).status == 202)
            }
            for _ in 0..<5 {
                try await Task.sleep(for: .milliseconds(Int.random(in: 200...1200)))
                server.kill9()
                server = try await world.start()
            }
            #expect(try await world.waitUntilSettled(server, timeout: .seconds(240)) == ["loaded": 200])
            #expect(try await world.count() == 1000)
            let distinct = try await world.clickhouse.query("SELECT count() FROM (SELECT volume FROM \(world.database).prices GROUP BY volume HAVING count() > 1)")
            #expect(distinct == [["0"]])
            #expect(try await http(.shared, .GET, "\(server.url)/v1/dlq").json["count"] as? Int == 0)
        } catch {
            await world.close()
            throw error
        }
        await world.close()
    }
}
