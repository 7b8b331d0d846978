import AsyncHTTPClient
import Foundation
import NIOHTTP1
import Testing

@Suite("Durability of accepted events", .enabled(if: SluiceBinary.available, "needs the sluice binary"), .serialized)
struct DurabilityTests {
    /// Every 202 survives kill -9, exactly once.
    @Test func acceptedEventsSurviveSIGKILL() async throws {
        let dir = try temporaryDirectory("durability")
        defer { try? FileManager.default.removeItem(at: dir) }
        let config = try writeConfig(dir)
        let client = HTTPClient.shared

        let server = try await ServeProcess.start(config: config)
        let n = 300
        let accepted = try await withThrowingTaskGroup(of: String?.self) { group in
            for i in 0..<n {
                group.addTask {
                    let r = try await http(client, .POST, "\(server.url)/v1/events", body: eventBridgeEvent(key: "market/prices/ds=2025-09-10/part-\(i).parquet", etag: "etag-\(i)"))
                    return r.status == 202 ? r.json["correlation_id"] as? String : nil
                }
            }
            var ids: [String] = []
            for try await id in group { if let id { ids.append(id) } }
            return ids
        }
        server.kill9()
        #expect(accepted.count == n)

        let restarted = try await ServeProcess.start(config: config)
        let list = try await http(client, .GET, "\(restarted.url)/v1/loads?status=queued&limit=1000")
        let loads = try #require(list.json["loads"] as? [[String: Any]])
        let ids = loads.compactMap { $0["correlation_id"] as? String }
        #expect(ids.count == n)
        #expect(Set(ids) == Set(accepted))
        // A redelivery after the restart is still a duplicate.
        let again = try await http(client, .POST, "\(restarted.url)/v1/events", body: eventBridgeEvent(key: "market/prices/ds=2025-09-10/part-7.parquet", etag: "etag-7"))
        #expect(again.status == 200)
        #expect(again.json["status"] as? String == "duplicate")
        #expect(restarted.terminate() == 0)
    }

    /// SIGTERM: intake stops, the process exits 0, and what was accepted is still there.
    @Test func sigtermExitsCleanly() async throws {
        let dir = try temporaryDirectory("sigterm")
        defer { try? FileManager.default.removeItem(at: dir) }
        let config = try writeConfig(dir)
        let client = HTTPClient.shared
        let server = try await ServeProcess.start(config: config)
        let r = try await http(client, .POST, "\(server.url)/v1/events", body: eventBridgeEvent(key: "market/prices/ds=1/a.parquet", etag: "a"))
        #expect(r.status == 202)
        #expect(server.terminate() == 0)
        // A stopped journal is one file: the WAL was checkpointed and truncated at shutdown.
        let wal = dir.appendingPathComponent("journal.db-wal").path
        let walBytes = (try? FileManager.default.attributesOfItem(atPath: wal))?[.size] as? Int ?? 0
        #expect(walBytes == 0)
        let restarted = try await ServeProcess.start(config: config)
        let list = try await http(client, .GET, "\(restarted.url)/v1/loads")
        #expect(list.json["count"] as? Int == 1)
        #expect(restarted.terminate() == 0)
    }

    /// A damaged journal: Sluice does not start its intake or loaders, says why, leaves the file alone, and keeps
    /// answering `/health` (503, naming the journal) until SIGTERM, then exits 1.
    @Test func damagedJournalIsRefusedAndReportedOnHealth() async throws {
        let dir = try temporaryDirectory("damaged")
        defer { try? FileManager.default.removeItem(at: dir) }
        let config = try writeConfig(dir)
        let journal = dir.appendingPathComponent("journal.db")
        let garbage = Data((0..<16384).map { UInt8(truncatingIfNeeded: $0 &* 31) })
        try garbage.write(to: journal)
        let server = try await ServeProcess.start(config: config)
        let health = try await http(HTTPClient.shared, .GET, "\(server.url)/health")
        #expect(health.status == 503)
        #expect(health.json["status"] as? String == "failed")
        let check = (health.json["checks"] as? [String: Any])?["journal"] as? String
        #expect(check?.contains(journal.path) == true)
        #expect(check?.contains("corrupt") == true)
        let intake = try await http(HTTPClient.shared, .POST, "\(server.url)/v1/events", body: eventBridgeEvent(key: "market/prices/ds=1/a.parquet", etag: "a"))
        #expect(intake.status == 503)
        #expect(server.terminate() == 1)
        #expect(server.log.contents.contains(journal.path))
        #expect(try Data(contentsOf: journal) == garbage)
    }

    @Test func configCheckRedactsSecretsAndNamesBadKeys() throws {
        let dir = try temporaryDirectory("config")
        defer { try? FileManager.default.removeItem(at: dir) }
        let good = try writeConfig(dir, extra: "auth:\n  api_keys: [\"sentinel-key-0123456789\"]\nclickhouse:\n  password: sentinel-password\n")
        let ok = try run(try #require(SluiceBinary.path), ["config", "check", good.path])
        #expect(ok.status == 0)
        #expect(ok.stdout.contains("bucket: data-pipeline-curated-dev"))
        #expect(!ok.stdout.contains("sentinel"))
        #expect(ok.stdout.contains("<redacted>"))

        let bad = dir.appendingPathComponent("bad.yaml")
        try Data("http:\n  port: eighty\n  prot: 1\ndomains:\n  market:\n    priority: urgent\n".utf8).write(to: bad)
        let failed = try run(try #require(SluiceBinary.path), ["config", "check", bad.path])
        #expect(failed.status == 1)
        #expect(failed.stderr.contains("http.port: must be an integer"))
        #expect(failed.stderr.contains("http.prot: unknown key"))
        #expect(failed.stderr.contains("domains.market.priority: unknown value \"urgent\""))
        #expect(failed.stderr.contains("intake.bucket: is required"))

        let env = try run(try #require(SluiceBinary.path), ["config", "check", good.path], environment: ["SLUICE_HTTP_PORT": "9999", "PATH": "/usr/bin"])
        #expect(env.stdout.contains("port: 9999"))
    }
}
