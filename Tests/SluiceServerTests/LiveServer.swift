import AsyncHTTPClient
import Configuration
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import ServiceLifecycle
import SluiceCore
import SluiceIntake
import SluiceJournal
import SluiceServer
import Synchronization

/// A running Sluice on 127.0.0.1:<free port> for live HTTP tests.
struct LiveServer {
    let port: Int
    let app: SluiceApp
    let client: HTTPClient

    static let bucket = "data-pipeline-curated-dev"

    static func configuration(
        journalPath: String = temporaryPath(),
        apiKeys: [String] = [],
        maxPending: Int = 10_000,
        maxBodyBytes: Int = 262_144,
        drainSeconds: Double = 0
    ) -> SluiceConfiguration {
        var c = SluiceConfiguration(values: ConfigValues(ConfigReader(provider: InMemoryProvider(values: [:]))))
        c.server.host = "127.0.0.1"
        c.server.port = 0
        c.server.apiKeys = apiKeys
        c.server.maxBodyBytes = maxBodyBytes
        c.server.drainSeconds = drainSeconds
        c.server.retryAfterSeconds = 7
        c.intake.bucket = bucket
        c.journal.path = journalPath
        c.journal.maxPending = maxPending
        return c
    }

    static func temporaryPath() -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("sluice-server-\(UUID().uuidString)/journal.db").path
    }

    /// Runs `body` against a live server, then shuts the server down gracefully.
    static func with<T: Sendable>(
        _ configuration: SluiceConfiguration = configuration(),
        _ body: @Sendable (LiveServer) async throws -> T
    ) async throws -> T {
        let portBox = Mutex<Int?>(nil)
        let logger = Logger(label: "test")
        let app = try SluiceApp(configuration: configuration, logger: logger, onListening: { port in
            portBox.withLock { $0 = port }
        })
        let group = ServiceGroup(configuration: .init(services: app.services, logger: logger))
        return try await withThrowingTaskGroup(of: T?.self) { tasks in
            tasks.addTask {
                try await group.run()
                return nil
            }
            var port: Int?
            for _ in 0..<500 {
                port = portBox.withLock { $0 }
                if port != nil { break }
                try await Task.sleep(for: .milliseconds(10))
            }
            guard let port else { throw TestFailure("server did not start") }
            let client = HTTPClient(eventLoopGroupProvider: .singleton)
            let server = LiveServer(port: port, app: app, client: client)
            let result: T
            do {
                result = try await body(server)
            } catch {
                try? await client.shutdown()
                await group.triggerGracefulShutdown()
                throw error
            }
            try await client.shutdown()
            await group.triggerGracefulShutdown()
            while let next = try await tasks.next() { if let r = next { return r } }
            return result
        }
    }

    struct Reply {
        var status: Int
        var headers: HTTPHeaders
        var body: String
        var json: [String: Any] {
            (try? JSONSerialization.jsonObject(with: Data(body.utf8))) as? [String: Any] ?? [:]
        }
    }

    func request(
        _ method: HTTPMethod, _ path: String, body: String? = nil, headers: [(String, String)] = [("content-type", "application/json")]
    ) async throws -> Reply {
        var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)\(path)")
        request.method = method
        for (k, v) in headers { request.headers.add(name: k, value: v) }
        if let body { request.body = .bytes(ByteBuffer(string: body)) }
        let response = try await client.execute(request, timeout: .seconds(10))
        let bytes = try await response.body.collect(upTo: 16 << 20)
        return Reply(status: Int(response.status.code), headers: response.headers, body: String(buffer: bytes))
    }

    func post(_ path: String, _ body: String, headers: [(String, String)] = [("content-type", "application/json")]) async throws -> Reply {
        try await request(.POST, path, body: body, headers: headers)
    }
}

struct TestFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

enum Events {
    static func eventBridge(key: String = "market/prices/ds=2025-09-10/part-001.parquet", size: Int = 5000, etag: String = UUID().uuidString, id: String? = nil) -> String {
        let idField = id.map { "\"id\":\"\($0)\"," } ?? ""
        return """
            {\(idField)"version":"0","detail-type":"Object Created","source":"aws.s3","time":"2025-09-10T00:00:00Z",\
            "resources":["arn:aws:s3:::\(LiveServer.bucket)"],"detail":{"version":"0","bucket":{"name":"\(LiveServer.bucket)"},\
            "object":{"key":"\(key)","size":\(size),"etag":"\(etag)","sequencer":"617f08299329d189"},"reason":"PutObject"}}
            """
    }
}
