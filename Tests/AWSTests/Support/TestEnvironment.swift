@testable import AWS
import AWSSigV4
import Foundation
import Logging
import Synchronization
import Testing

/// Servers the integration tests talk to, found through the test script's variables.
enum TestServers {
    static var environment: [String: String] { ProcessInfo.processInfo.environment }

    /// The moto server (`SLUICE_TEST_S3_ENDPOINT`), serving S3, SQS and STS.
    static var motoEndpoint: String? { environment["SLUICE_TEST_S3_ENDPOINT"].flatMap { $0.isEmpty ? nil : $0 } }

    /// A moto server in authentication mode set up by `scripts/servers/moto.sh start DIR --auth`.
    static var authEndpoint: String? { environment["SLUICE_TEST_S3_AUTH_ENDPOINT"].flatMap { $0.isEmpty ? nil : $0 } }
    static var authAccessKeyID: String? { environment["SLUICE_TEST_AUTH_ACCESS_KEY_ID"] }
    static var authSecretAccessKey: String? { environment["SLUICE_TEST_AUTH_SECRET_ACCESS_KEY"] }

    static var required: Bool { environment["SLUICE_REQUIRE_SERVERS"] == "1" }

    /// Runs when the server is configured, or when servers are required (so that a missing
    /// server fails instead of skipping).
    static var motoShouldRun: Bool { motoEndpoint != nil || required }
    static var authShouldRun: Bool { authEndpoint != nil || required }

    static func requireMoto() throws -> String {
        try #require(motoEndpoint, "SLUICE_TEST_S3_ENDPOINT is not set but SLUICE_REQUIRE_SERVERS=1")
    }

    static let logger = Logger(label: "sluice.aws.tests")

    /// Credentials moto accepts when it does not verify signatures.
    static let motoCredentials = StaticCredentialProvider(accessKeyID: "AKIDMOTOTESTING01", secretAccessKey: "moto-secret-key")

    /// Runs `body` with a transport that is shut down afterwards.
    static func withTransport<T>(_ body: (AWSHTTPTransport) async throws -> T) async throws -> T {
        let transport = AWSHTTPTransport()
        do {
            let result = try await body(transport)
            try await transport.shutdown()
            return result
        } catch {
            try? await transport.shutdown()
            throw error
        }
    }

    /// A name unique to this run, for buckets and queues.
    static func uniqueName(_ prefix: String) -> String {
        "\(prefix)-\(UInt32.random(in: 0...UInt32.max))-\(UInt16.random(in: 0...UInt16.max))"
    }
}

/// An environment made of a dictionary and in-memory files.
func fakeEnvironment(_ variables: [String: String], files: [String: String] = [:]) -> AWSEnvironment {
    AWSEnvironment(variables: variables) { path in files[path].map { Array($0.utf8) } }
}

/// A clock the test moves by hand.
final class ManualClock: Sendable {
    private let current: Mutex<Date>
    init(_ start: Date = Date(timeIntervalSince1970: 1_800_000_000)) { self.current = Mutex(start) }
    var now: Date { self.current.withLock { $0 } }
    func advance(_ seconds: TimeInterval) { self.current.withLock { $0 = $0.addingTimeInterval(seconds) } }
    var function: @Sendable () -> Date { { self.now } }
}
