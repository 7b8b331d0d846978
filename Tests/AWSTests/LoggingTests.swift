@testable import AWS
import AWSSigV4
import Foundation
import Logging
import NIOHTTP1
import Synchronization
import Testing

/// Every log record, metadata included.
final class LogStore: Sendable {
    let lines = Mutex<[String]>([])
}

/// Writes every record at trace level and above into a ``LogStore``.
struct CapturingLogHandler: LogHandler {
    let store: LogStore
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { self.metadata[key] }
        set { self.metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        let merged = self.metadata.merging(event.metadata ?? [:]) { $1 }
        let text = "\(event.level) \(event.message) \(merged.map { "\($0)=\($1)" }.sorted().joined(separator: " "))"
        self.store.lines.withLock { $0.append(text) }
    }
}

@Suite("Logging", .timeLimit(.minutes(1)))
struct LoggingTests {
    @Test("trace-level logs of signed requests, failures and refreshes carry no secret")
    func noSecretsInLogs() async throws {
        let store = LogStore()
        let logger = Logger(label: "sluice.aws.capture") { _ in CapturingLogHandler(store: store) }
        let calls = Mutex(0)
        let server = try await LocalHTTPServer.start { request in
            let call = calls.withLock { $0 += 1; return $0 }
            switch call {
            case 1: return .init(status: .badRequest, body: "<Error><Code>ExpiredToken</Code><Message>expired</Message></Error>")
            case 2: return .init(status: .partialContent, headers: [("Content-Range", "bytes 0-1/2")], body: "ok")
            default: return .init(status: .forbidden, body: "<Error><Code>AccessDenied</Code><Message>no</Message></Error>")
            }
        }
        defer { Task { try? await server.stop() } }
        let secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYLOGGINGKEY"
        let token = "IQoJb3JpZ2luX2VjELOGGINGTOKEN"
        let credentials = CachingCredentialProvider(
            StaticCredentialProvider(
                AWSCredentials(accessKeyID: "ASIALOGGINGKEYID0001", secretAccessKey: secret, sessionToken: token, expiration: Date().addingTimeInterval(3600), source: "test")
            )
        )
        try await TestServers.withTransport { transport in
            let client = S3Client(
                configuration: S3Configuration(region: "us-east-1", endpoint: try AWSEndpoint(url: server.baseURL), pathStyle: true),
                credentials: credentials,
                transport: transport
            )
            _ = try await client.getObjectRange(bucket: "bucket", key: "k", offset: 0, length: 2, logger: logger)
            let error = await #expect(throws: AWSError.self) {
                try await client.getObjectRange(bucket: "bucket", key: "k", offset: 0, length: 2, logger: logger)
            }
            let signatures = server.requests.compactMap { $0.headers.first(name: "authorization")?.components(separatedBy: "Signature=").last }
            #expect(signatures.count == 3)
            let lines = store.lines.withLock { $0 } + [error.map { "\($0)" } ?? "", error.map { String(reflecting: $0) } ?? ""]
            #expect(lines.count > 3)
            for line in lines {
                #expect(!line.contains(secret))
                #expect(!line.contains(token))
                #expect(!line.contains("ASIALOGGINGKEYID0001"))
                for signature in signatures { #expect(!line.contains(signature)) }
            }
        }
    }
}
