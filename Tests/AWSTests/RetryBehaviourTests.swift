@testable import AWS
import AWSSigV4
import Foundation
import Logging
import NIOHTTP1
import Synchronization
import Testing

/// The only retries the clients make themselves: a re-sign after clock skew and a credential
/// refresh after an expired token. Everything else comes back classified, after one request.
@Suite("Client retries", .timeLimit(.minutes(1)))
struct RetryBehaviourTests {
    let logger = TestServers.logger

    static func s3(_ server: LocalHTTPServer, _ transport: AWSHTTPTransport, credentials: any CredentialProvider, now: @escaping @Sendable () -> Date = { Date() }) throws -> S3Client {
        S3Client(
            configuration: S3Configuration(region: "us-east-1", endpoint: try AWSEndpoint(url: server.baseURL), pathStyle: true),
            credentials: credentials,
            transport: transport,
            now: now
        )
    }

    static func errorXML(_ code: String) -> String {
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>\(code)</Code><Message>\(code) message</Message><RequestId>REQ123</RequestId></Error>"
    }

    static func httpDate(_ date: Date) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss 'GMT'"
        return formatter.string(from: date)
    }

    static let rangeOK = LocalHTTPServer.Response(
        status: .partialContent,
        headers: [("Content-Range", "bytes 0-3/10"), ("ETag", "\"abc\"")],
        body: "abcd"
    )

    @Test("RequestTimeTooSkewed: re-signed once with the server's clock, and later requests keep the correction")
    func clockSkew() async throws {
        let server = try await LocalHTTPServer.start { request in
            let stamp = request.headers.first(name: "x-amz-date") ?? ""
            let serverStamp = SigV4Timestamp(Date()).dateTime
            // Same minute is close enough; the client starts an hour behind.
            guard stamp.prefix(13) == serverStamp.prefix(13) else {
                return .init(status: .forbidden, headers: [("Date", Self.httpDate(Date()))], body: Self.errorXML("RequestTimeTooSkewed"))
            }
            return Self.rangeOK
        }
        defer { Task { try? await server.stop() } }
        try await TestServers.withTransport { transport in
            let client = try Self.s3(server, transport, credentials: TestServers.motoCredentials, now: { Date().addingTimeInterval(-3600) })
            let first = try await client.getObjectRange(bucket: "bucket", key: "k", offset: 0, length: 4, logger: self.logger)
            #expect(first == Array("abcd".utf8))
            #expect(server.requests.count == 2)
            _ = try await client.getObjectRange(bucket: "bucket", key: "k", offset: 0, length: 4, logger: self.logger)
            #expect(server.requests.count == 3)
        }
    }

    @Test("a signature error without clock skew is not retried")
    func signatureMismatchNotRetried() async throws {
        let server = try await LocalHTTPServer.start { _ in
            .init(status: .forbidden, headers: [("Date", Self.httpDate(Date()))], body: Self.errorXML("SignatureDoesNotMatch"))
        }
        defer { Task { try? await server.stop() } }
        try await TestServers.withTransport { transport in
            let client = try Self.s3(server, transport, credentials: TestServers.motoCredentials)
            let error = await #expect(throws: AWSError.self) {
                try await client.getObjectRange(bucket: "bucket", key: "k", offset: 0, length: 4, logger: self.logger)
            }
            #expect(error?.code == "SignatureDoesNotMatch")
            #expect(error?.requestID == "REQ123")
            #expect(error?.category == .permanent)
            #expect(server.requests.count == 1)
        }
    }

    /// Temporary credentials whose token changes after `invalidate()`.
    final class RotatingProvider: CredentialProvider, Sendable {
        let generation = Mutex(1)
        func credentials(logger: Logger) async throws -> AWSCredentials {
            let number = self.generation.withLock { $0 }
            return AWSCredentials(
                accessKeyID: "ASIAROTATING",
                secretAccessKey: "secret",
                sessionToken: "token-\(number)",
                expiration: Date().addingTimeInterval(3600),
                source: "rotating"
            )
        }
        func invalidate() async { self.generation.withLock { $0 += 1 } }
    }

    @Test("ExpiredToken: the credentials are refreshed once and the request repeated")
    func expiredToken() async throws {
        let server = try await LocalHTTPServer.start { request in
            request.headers.first(name: "x-amz-security-token") == "token-1"
                ? .init(status: .badRequest, body: Self.errorXML("ExpiredToken")) : Self.rangeOK
        }
        defer { Task { try? await server.stop() } }
        try await TestServers.withTransport { transport in
            let provider = RotatingProvider()
            let client = try Self.s3(server, transport, credentials: CachingCredentialProvider(provider))
            _ = try await client.getObjectRange(bucket: "bucket", key: "k", offset: 0, length: 4, logger: self.logger)
            #expect(server.requests.map { $0.headers.first(name: "x-amz-security-token") } == ["token-1", "token-2"])
        }
    }

    @Test("5xx, SlowDown and transport failures come back classified after one request", arguments: [
        (500, "InternalError", AWSError.Category.retryable),
        (503, "SlowDown", AWSError.Category.throttled),
        (503, "ServiceUnavailable", AWSError.Category.retryable),
        (403, "AccessDenied", AWSError.Category.permanent),
        (404, "NoSuchBucket", AWSError.Category.permanent),
    ])
    func classified(_ status: Int, _ code: String, _ category: AWSError.Category) async throws {
        let server = try await LocalHTTPServer.start { _ in
            .init(status: HTTPResponseStatus(statusCode: status), body: Self.errorXML(code))
        }
        defer { Task { try? await server.stop() } }
        try await TestServers.withTransport { transport in
            let client = try Self.s3(server, transport, credentials: TestServers.motoCredentials)
            let error = await #expect(throws: AWSError.self) {
                try await client.getObjectRange(bucket: "bucket", key: "k", offset: 0, length: 4, logger: self.logger)
            }
            #expect(error?.code == code)
            #expect(error?.httpStatus == status)
            #expect(error?.category == category)
            #expect(error?.sluiceCode == (category == .permanent ? nil : "E004"))
            #expect(server.requests.count == 1)
        }
    }

    @Test("a refused connection is a retryable network error")
    func connectionRefused() async throws {
        try await TestServers.withTransport { transport in
            let client = S3Client(
                configuration: S3Configuration(region: "us-east-1", endpoint: AWSEndpoint(scheme: "http", host: "127.0.0.1", port: 9)),
                credentials: TestServers.motoCredentials,
                transport: transport
            )
            let error = await #expect(throws: AWSError.self) {
                try await client.headObject(bucket: "bucket", key: "k", logger: self.logger)
            }
            #expect(error?.code == AWSError.Code.networkError)
            #expect(error?.category == .retryable)
            #expect(error?.sluiceCode == "E004")
        }
    }

    @Test("a body shorter than the range asked for is detected")
    func shortBody() async throws {
        let server = try await LocalHTTPServer.start { _ in
            .init(status: .partialContent, headers: [("Content-Range", "bytes 0-3/10")], body: "ab")
        }
        defer { Task { try? await server.stop() } }
        try await TestServers.withTransport { transport in
            let client = try Self.s3(server, transport, credentials: TestServers.motoCredentials)
            let error = await #expect(throws: AWSError.self) {
                try await client.getObjectRange(bucket: "bucket", key: "k", offset: 0, length: 4, logger: self.logger)
            }
            #expect(error?.isRetryable == true)
        }
    }
}
