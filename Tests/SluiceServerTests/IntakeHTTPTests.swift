import AsyncHTTPClient
import Foundation
import NIOHTTP1
import SluiceJournal
import SluiceServer
import Testing

@Suite("HTTP intake, live on port 0")
struct IntakeHTTPTests {
    @Test func queuedThenDuplicateThenStatus() async throws {
        try await LiveServer.with { server in
            let event = Events.eventBridge(etag: "etag-1")
            let first = try await server.post("/v1/events", event, headers: [("content-type", "application/json"), ("x-correlation-id", "req-123")])
            #expect(first.status == 202)
            #expect(first.json["status"] as? String == "queued")
            #expect(first.json["correlation_id"] as? String == "req-123")
            #expect(first.headers.first(name: "x-correlation-id") == "req-123")
            #expect(first.json["table"] as? String == "market.prices")
            #expect(first.json["partition"] as? String == "ds=2025-09-10")

            let second = try await server.post("/v1/events", event)
            #expect(second.status == 200)
            #expect(second.json["status"] as? String == "duplicate")
            #expect(second.json["correlation_id"] as? String == "req-123")

            let load = try await server.request(.GET, "/v1/loads/req-123")
            #expect(load.status == 200)
            #expect(load.json["status"] as? String == "queued")
            #expect(load.json["key"] as? String == "market/prices/ds=2025-09-10/part-001.parquet")
            let history = try #require(load.json["history"] as? [[String: Any]])
            #expect(history.first?["to"] as? String == "queued")

            let list = try await server.request(.GET, "/v1/loads?status=queued&domain=market&table=market.prices&limit=10")
            #expect(list.status == 200)
            #expect(list.json["count"] as? Int == 1)
            let none = try await server.request(.GET, "/v1/loads?domain=customer")
            #expect(none.json["count"] as? Int == 0)
            #expect(try await server.request(.GET, "/v1/loads/unknown-id").status == 404)
            #expect(try await server.request(.GET, "/v1/loads?status=bogus").status == 400)
        }
    }

    @Test func filteredIs200WithReason() async throws {
        try await LiveServer.with { server in
            let r = try await server.post("/v1/events", Events.eventBridge(size: 10))
            #expect(r.status == 200)
            #expect(r.json["status"] as? String == "filtered")
            #expect((r.json["reason"] as? String)?.contains("not over 1024") == true)
        }
    }

    @Test func malformedInputIs400WithCodeAndFieldAndIsKept() async throws {
        try await LiveServer.with { server in
            let r = try await server.post("/v1/events", "{\"source\":\"aws.s3\",\"detail-type\":\"Object Created\",\"detail\":{\"bucket\":{\"name\":\"\(LiveServer.bucket)\"},\"object\":{\"size\":5000}}}")
            #expect(r.status == 400)
            #expect(r.json["code"] as? String == "E001")
            #expect(r.json["field"] as? String == "detail.object.key")
            let dead = try await server.app.journal.deadLetters(code: "E001")
            #expect(dead.count == 1)
            #expect(dead.first?.payload?.contains("\"size\":5000") == true)
            #expect(dead.first?.field == "detail.object.key")

            let notJSON = try await server.post("/v1/events", "{nope")
            #expect(notJSON.status == 400)
            #expect(notJSON.json["field"] as? String == "$")

            let deep = try await server.post("/v1/events", String(repeating: "[", count: 100_000))
            #expect(deep.status == 400)
        }
    }

    @Test func messagesEndpointAcceptsTheTransformedShape() async throws {
        try await LiveServer.with { server in
            let body = """
                {"bucket":"\(LiveServer.bucket)","key":"customer/accounts/ds=2025-09-10/part-002.parquet","domain":"",\
                "table_name":"","partition":"","file_size":2048,"correlation_id":"550e8400-e29b-41d4-a716-446655440000"}
                """
            let r = try await server.post("/v1/messages", body)
            #expect(r.status == 202)
            #expect(r.json["correlation_id"] as? String == "550e8400-e29b-41d4-a716-446655440000")
            #expect(r.json["table"] as? String == "customer.accounts")
            #expect(try await server.post("/v1/messages", body).json["status"] as? String == "duplicate")
        }
    }

    @Test func arraysGetPerItemResults() async throws {
        try await LiveServer.with { server in
            let body = "[\(Events.eventBridge(key: "market/prices/ds=1/a.parquet")),\(Events.eventBridge(key: "market/prices/ds=1/b.parquet", size: 5))]"
            let r = try await server.post("/v1/events", body)
            #expect(r.status == 202)
            let results = try #require(r.json["results"] as? [[String: Any]])
            #expect(results.map { $0["status"] as? String } == ["queued", "filtered"])
        }
    }

    @Test func protocolErrors() async throws {
        try await LiveServer.with(LiveServer.configuration(maxBodyBytes: 4096)) { server in
            let wrongType = try await server.post("/v1/events", Events.eventBridge(), headers: [("content-type", "application/xml")])
            #expect(wrongType.status == 415)
            let gzip = try await server.post("/v1/events", Events.eventBridge(), headers: [("content-type", "application/json"), ("content-encoding", "gzip")])
            #expect(gzip.status == 415)
            let big = try await server.post("/v1/events", String(repeating: " ", count: 10_000))
            #expect(big.status == 413)
            #expect(big.json["code"] as? String == "payload_too_large")
            let method = try await server.request(.DELETE, "/v1/events")
            #expect(method.status == 405)
            #expect(method.headers.first(name: "allow") == "POST")
            #expect(try await server.request(.GET, "/v1/nothing").status == 404)
            let badID = try await server.post("/v1/events", Events.eventBridge(), headers: [("content-type", "application/json"), ("x-correlation-id", "bad id!")])
            #expect(badID.status == 400)
            #expect(badID.json["field"] as? String == "X-Correlation-ID")
        }
    }

    @Test func apiKeysWithRotation() async throws {
        let keys = ["first-key-0123456789abcdef", "second-key-0123456789abcdef"]
        try await LiveServer.with(LiveServer.configuration(apiKeys: keys)) { server in
            let missing = try await server.post("/v1/events", Events.eventBridge())
            #expect(missing.status == 401)
            #expect(missing.json["code"] as? String == "unauthorized")
            let wrong = try await server.post("/v1/events", Events.eventBridge(), headers: [("content-type", "application/json"), ("x-api-key", "first-key-0123456789abcdeX")])
            #expect(wrong.status == 401)
            for (i, key) in keys.enumerated() {
                let ok = try await server.post(
                    "/v1/events", Events.eventBridge(key: "market/prices/ds=1/k\(i).parquet"),
                    headers: [("content-type", "application/json"), ("x-api-key", key)]
                )
                #expect(ok.status == 202)
            }
            #expect(try await server.request(.GET, "/v1/loads").status == 401)
            // Operations endpoints stay open unless auth.protect_ops is set.
            #expect(try await server.request(.GET, "/health").status == 200)
            #expect(try await server.request(.GET, "/metrics").status == 200)
        }
    }

    @Test func fullQueueIs429WithRetryAfter() async throws {
        try await LiveServer.with(LiveServer.configuration(maxPending: 2)) { server in
            var statuses: [Int] = []
            for i in 0..<4 {
                statuses.append(try await server.post("/v1/events", Events.eventBridge(key: "market/prices/ds=1/f\(i).parquet")).status)
            }
            #expect(statuses == [202, 202, 429, 429])
            let r = try await server.post("/v1/events", Events.eventBridge(key: "market/prices/ds=1/f9.parquet"))
            #expect(r.headers.first(name: "retry-after") == "7")
            #expect(r.json["code"] as? String == "queue_full")
            // A duplicate needs no room.
            let dupe = try await server.post("/v1/events", Events.eventBridge(key: "market/prices/ds=1/f0.parquet", etag: "x"))
            #expect(dupe.status == 429 || dupe.status == 200)
        }
    }

    @Test func drainingIs503WithRetryAfter() async throws {
        try await LiveServer.with { server in
            server.app.gate.close()
            let r = try await server.post("/v1/events", Events.eventBridge())
            #expect(r.status == 503)
            #expect(r.headers.first(name: "retry-after") == "7")
            let ready = try await server.request(.GET, "/ready")
            #expect(ready.status == 503)
            #expect(try await server.request(.GET, "/health").status == 200)
        }
    }

    @Test func operationsEndpoints() async throws {
        try await LiveServer.with { server in
            _ = try await server.post("/v1/events", Events.eventBridge())
            let ready = try await server.request(.GET, "/ready")
            #expect(ready.status == 200)
            #expect((ready.json["checks"] as? [String: Any])?["journal"] as? String == "ok")
            let metrics = try await server.request(.GET, "/metrics")
            #expect(metrics.status == 200)
            #expect(metrics.headers.first(name: "content-type")?.hasPrefix("text/plain") == true)
            #expect(metrics.body.contains("sluice_events_received_total{source=\"eventbridge\",outcome=\"queued\"} 1"))
            #expect(metrics.body.contains("sluice_queue_depth{domain=\"market\",priority=\"high\"} 1"))
            #expect(metrics.body.contains("sluice_http_request_duration_seconds_bucket{method=\"POST\",route=\"/v1/events\",status=\"202\""))
        }
    }
}
