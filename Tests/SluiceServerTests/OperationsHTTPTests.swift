import AsyncHTTPClient
import Foundation
import NIOHTTP1
import SluiceCore
import SluiceIntake
import SluiceJournal
import SluiceServer
import Testing

@Suite("Manual loads and the dead-letter API, live on port 0")
struct OperationsHTTPTests {
    /// Queues a file through intake, then fails it for good through the journal, as a loader would.
    func deadLetter(_ server: LiveServer, key: String, error: SluiceError) async throws -> String {
        let r = try await server.post("/v1/events", Events.eventBridge(key: key))
        let cid = try #require(r.json["correlation_id"] as? String)
        let batch = try #require(try await server.app.journal.claimNext())
        try await server.app.journal.markFailed(ids: batch.entries.map(\.id), error: error, retryAt: nil)
        return cid
    }

    @Test func manualLoadIsQueuedAndCanBeAwaited() async throws {
        try await LiveServer.with { server in
            let r = try await server.post("/v1/loads", "{\"uri\":\"s3://\(LiveServer.bucket)/market/prices/ds=2025-09-10/part-9.parquet\"}")
            #expect(r.status == 202)
            #expect(r.json["table"] as? String == "market.prices")
            let cid = try #require(r.json["correlation_id"] as? String)
            let status = try await server.request(.GET, "/v1/loads/\(cid)")
            #expect(status.json["source"] as? String == "manual")
            // No loader runs in this test: waiting ends at the timeout with the entry still queued.
            let waited = try await server.post("/v1/loads?wait=true&timeout_s=0.3", "{\"bucket\":\"\(LiveServer.bucket)\",\"key\":\"elsewhere/x.parquet\",\"table\":\"analytics.events\"}")
            #expect(waited.status == 202)
            #expect(waited.json["status"] as? String == "queued")
            #expect(waited.json["table"] as? String == "analytics.events")
            #expect(waited.json["domain"] as? String == "manual")
        }
    }

    @Test(arguments: [
        ("{\"key\":\"market/p/a.parquet\"}", "bucket"),
        ("{\"uri\":\"http://x/y\"}", "uri"),
        ("{\"bucket\":\"Bad_Bucket\",\"key\":\"market/p/a.parquet\"}", "bucket"),
        ("{\"bucket\":\"data-pipeline-curated-dev\",\"key\":\"market/p/a.parquet\",\"table\":\"no-dots\"}", "table"),
    ])
    func badManualLoadsAreE001(body: String, field: String) async throws {
        try await LiveServer.with { server in
            let r = try await server.post("/v1/loads", body)
            #expect(r.status == 400)
            #expect(r.json["code"] as? String == "E001")
            #expect(r.json["field"] as? String == field)
        }
    }

    @Test func aBadQueryParameterIsRefusedBeforeAnythingIsQueued() async throws {
        try await LiveServer.with { server in
            let body = "{\"uri\":\"s3://\(LiveServer.bucket)/market/prices/ds=2025-09-10/part-9.parquet\"}"
            for query in ["wait=maybe", "wait=true&timeout_s=-1", "timeout_s=abc"] {
                let r = try await server.post("/v1/loads?\(query)", body)
                #expect(r.status == 400, "\(query)")
                #expect(r.json["field"] as? String == (query.hasPrefix("wait=maybe") ? "wait" : "timeout_s"))
            }
            #expect(try await server.app.journal.claimNext() == nil)
            #expect(try await server.post("/v1/dlq/1/replay?restart=sometimes", "").status == 400)
        }
    }

    @Test(arguments: [
        ("/v1/dlq?since=", "since"), ("/v1/dlq?code=", "code"), ("/v1/dlq?limit=0", "limit"),
        ("/v1/dlq?since=2129-10-24T01:45:54Z*", "since"), ("/v1/dlq?since=2025-02-29T00:00:00Z", "since"),
        ("/v1/dlq?since=1e5", "since"), ("/v1/dlq?since=12345678901", "since"), ("/v1/dlq?since=1.2345", "since"),
    ])
    func badDeadLetterFiltersAre400(path: String, field: String) async throws {
        try await LiveServer.with { server in
            let r = try await server.request(.GET, path)
            #expect(r.status == 400)
            #expect(r.json["field"] as? String == field)
        }
    }

    @Test func theSinceFilterTakesUnixSecondsOrUTCTimes() async throws {
        try await LiveServer.with { server in
            _ = try await server.post("/v1/events", "{not json")
            for (since, count) in [("0", 1), ("1.5", 1), ("2024-02-29T23:59:59Z", 1), ("9999999999", 0), ("2999-12-31T00:00:00Z", 0)] {
                let r = try await server.request(.GET, "/v1/dlq?since=\(since)")
                #expect(r.status == 200, "\(since)")
                #expect(r.json["count"] as? Int == count, "\(since)")
            }
        }
    }

    @Test(arguments: [
        ("{\"limit\":{}}", "limit"), ("{\"limit\":\"5\"}", "limit"), ("{\"since\":0}", "since"), ("{\"code\":[\"E003\"]}", "code"),
    ])
    func badBulkReplayBodiesAre400(body: String, field: String) async throws {
        try await LiveServer.with { server in
            let r = try await server.post("/v1/dlq/replay", body)
            #expect(r.status == 400)
            #expect(r.json["field"] as? String == field)
        }
    }

    @Test func aKeyOutsideEveryDomainNeedsATable() async throws {
        try await LiveServer.with { server in
            let r = try await server.post("/v1/loads", "{\"bucket\":\"data-pipeline-curated-dev\",\"key\":\"nowhere/a.parquet\"}")
            #expect(r.status == 422)
            #expect(r.json["code"] as? String == "E001")
            #expect(r.json["field"] as? String == "table")
        }
    }

    @Test func deadLettersCanBeListedInspectedReplayedAndDeleted() async throws {
        try await LiveServer.with { server in
            let schema = try await deadLetter(server, key: "market/prices/ds=1/a.parquet", error: SluiceError(category: .schema, "column price: DOUBLE cannot go into String"))
            let parse = try await deadLetter(server, key: "customer/accounts/ds=1/b.parquet", error: SluiceError(category: .parse, "corrupt page"))
            _ = try await server.post("/v1/events", "{not json")

            let all = try await server.request(.GET, "/v1/dlq")
            #expect(all.json["count"] as? Int == 3)
            let e003 = try await server.request(.GET, "/v1/dlq?code=E003&domain=market")
            let letters = try #require(e003.json["dead_letters"] as? [[String: Any]])
            #expect(letters.map { $0["correlation_id"] as? String } == [schema])
            #expect((letters[0]["recovery"] as? String)?.hasPrefix("Data correction") == true)
            let id = try #require(letters[0]["id"] as? Int)

            let one = try await server.request(.GET, "/v1/dlq/\(id)")
            #expect(one.status == 200)
            #expect((one.json["payload"] as? String)?.contains("market/prices/ds=1/a.parquet") == true)
            #expect((one.json["load"] as? [String: Any])?["status"] as? String == "dead_lettered")

            let replay = try await server.post("/v1/dlq/\(id)/replay", "")
            #expect(replay.status == 202)
            #expect(replay.json["correlation_id"] as? String == schema)
            let (entry, _) = try #require(try await server.app.journal.entry(correlationID: schema))
            #expect(entry.state == .queued)
            #expect(entry.failures == 0)
            #expect(try await server.post("/v1/dlq/\(id)/replay", "").status == 409)

            let invalid = try await server.request(.GET, "/v1/dlq?code=E001")
            let invalidID = try #require((invalid.json["dead_letters"] as? [[String: Any]])?.first?["id"] as? Int)
            let refused = try await server.post("/v1/dlq/\(invalidID)/replay", "")
            #expect(refused.status == 409)
            #expect(refused.json["code"] as? String == "not_replayable")

            let bulk = try await server.post("/v1/dlq/replay", "{\"code\":\"E003\",\"domain\":\"customer\"}")
            #expect(bulk.status == 200)
            #expect(bulk.json["count"] as? Int == 1)
            #expect(((bulk.json["replayed"] as? [[String: Any]])?.first?["correlation_id"] as? String) == parse)

            #expect(try await server.request(.DELETE, "/v1/dlq/\(invalidID)").status == 200)
            #expect(try await server.request(.GET, "/v1/dlq/\(invalidID)").status == 404)
            #expect(try await server.request(.GET, "/v1/dlq").json["count"] as? Int == 0)
            #expect(try await server.request(.GET, "/v1/dlq?code=E999").status == 400)
        }
    }
}
