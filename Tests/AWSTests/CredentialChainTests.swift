@testable import AWS
import AWSSigV4
import Foundation
import Logging
import NIOHTTP1
import Synchronization
import Testing

@Suite("Credential chain")
struct CredentialChainTests {
    let logger = TestServers.logger

    /// An STS client that must never be reached (its endpoint refuses connections).
    static func unreachableSTS(_ transport: AWSHTTPTransport) -> STSClient {
        STSClient(configuration: ServiceConfiguration(region: "us-east-1", endpoint: AWSEndpoint(scheme: "http", host: "127.0.0.1", port: 9)), transport: transport)
    }

    static let noMetadata = ["AWS_EC2_METADATA_DISABLED": "true"]

    @Test("environment variables come first")
    func environmentFirst() async throws {
        try await TestServers.withTransport { transport in
            let environment = fakeEnvironment(
                Self.noMetadata.merging([
                    "AWS_ACCESS_KEY_ID": "AKIDENV", "AWS_SECRET_ACCESS_KEY": "env-secret", "AWS_SESSION_TOKEN": "env-token",
                    "HOME": "/home/u", "AWS_CONTAINER_CREDENTIALS_FULL_URI": "http://127.0.0.1:9/creds",
                ]) { $1 },
                files: ["/home/u/.aws/credentials": "[default]\naws_access_key_id = AKIDFILE\naws_secret_access_key = file-secret\n"]
            )
            let chain = DefaultCredentialChain.make(environment: environment, transport: transport, sts: Self.unreachableSTS(transport))
            let credentials = try await chain.credentials(logger: self.logger)
            #expect(credentials.source == "environment")
            #expect(credentials.sigV4 == SigV4Credentials(accessKeyID: "AKIDENV", secretAccessKey: "env-secret", sessionToken: "env-token"))
        }
    }

    @Test("half-set environment credentials stop the chain with a clear error")
    func partialEnvironment() async throws {
        try await TestServers.withTransport { transport in
            let environment = fakeEnvironment(Self.noMetadata.merging(["AWS_ACCESS_KEY_ID": "AKIDENV"]) { $1 })
            let chain = DefaultCredentialChain.make(environment: environment, transport: transport, sts: Self.unreachableSTS(transport))
            let error = await #expect(throws: AWSError.self) { try await chain.credentials(logger: self.logger) }
            #expect(error?.code == AWSError.Code.credentialsUnavailable)
            #expect(error?.message.contains("AWS_SECRET_ACCESS_KEY") == true)
        }
    }

    @Test("the shared files: AWS_PROFILE picks the profile; credentials file wins over config")
    func profiles() async throws {
        try await TestServers.withTransport { transport in
            let files = [
                "/home/u/.aws/config": """
                    [default]
                    region = eu-central-1
                    [profile loader]
                    aws_access_key_id = AKIDCONFIG
                    aws_secret_access_key = config-secret
                    # a comment
                    [profile onlyconfig]
                    aws_access_key_id = AKIDONLYCONFIG
                    aws_secret_access_key = only#config;secret
                    """,
                "/home/u/.aws/credentials": """
                    [default]
                    aws_access_key_id = AKIDDEFAULT
                    aws_secret_access_key = default-secret
                    [loader]
                    aws_access_key_id = AKIDCREDS
                    aws_secret_access_key = creds-secret
                    aws_session_token = creds-token
                    """,
            ]
            let sts = Self.unreachableSTS(transport)
            func resolve(_ variables: [String: String]) async throws -> AWSCredentials {
                let environment = fakeEnvironment(Self.noMetadata.merging(["HOME": "/home/u"]) { $1 }.merging(variables) { $1 }, files: files)
                return try await DefaultCredentialChain.make(environment: environment, transport: transport, sts: sts).credentials(logger: self.logger)
            }
            let byDefault = try await resolve([:])
            #expect(byDefault.sigV4.accessKeyID == "AKIDDEFAULT")
            #expect(byDefault.source == "profile:default")
            let loader = try await resolve(["AWS_PROFILE": "loader"])
            #expect(loader.sigV4 == SigV4Credentials(accessKeyID: "AKIDCREDS", secretAccessKey: "creds-secret", sessionToken: "creds-token"))
            let onlyConfig = try await resolve(["AWS_PROFILE": "onlyconfig"])
            #expect(onlyConfig.sigV4.secretAccessKey == "only#config;secret")
            let missing = await #expect(throws: AWSError.self) { try await resolve(["AWS_PROFILE": "nope"]) }
            #expect(missing?.code == AWSError.Code.credentialsUnavailable)

            let configuration = try AWSConfiguration(environment: fakeEnvironment(["HOME": "/home/u"], files: files))
            #expect(configuration.region == "eu-central-1")
        }
    }

    @Test("with nothing configured the chain says which sources it tried")
    func nothingConfigured() async throws {
        try await TestServers.withTransport { transport in
            let chain = DefaultCredentialChain.make(environment: fakeEnvironment(Self.noMetadata), transport: transport, sts: Self.unreachableSTS(transport))
            let error = await #expect(throws: AWSError.self) { try await chain.credentials(logger: self.logger) }
            #expect(error?.code == AWSError.Code.credentialsNotFound)
            for source in ["environment", "web-identity", "profile:default", "container", "instance-metadata"] {
                #expect(error?.message.contains(source) == true, "\(source) missing from \(error?.message ?? "")")
            }
        }
    }

    @Test("ECS full URI on loopback with a token file", .timeLimit(.minutes(1)))
    func containerFullURI() async throws {
        let server = try await LocalHTTPServer.start { request in
            guard request.uri == "/v2/credentials/abc", request.headers.first(name: "authorization") == "token-from-file" else {
                return .init(status: .forbidden)
            }
            return .init(status: .ok, body: """
                {"AccessKeyId":"ASIACONTAINER","SecretAccessKey":"container-secret","Token":"container-token","Expiration":"2099-01-01T00:00:00Z","RoleArn":"arn:aws:iam::1:role/x"}
                """)
        }
        defer { Task { try? await server.stop() } }
        try await TestServers.withTransport { transport in
            let environment = fakeEnvironment(
                Self.noMetadata.merging([
                    "AWS_CONTAINER_CREDENTIALS_FULL_URI": server.baseURL + "/v2/credentials/abc",
                    "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE": "/var/run/secrets/pods.eks.amazonaws.com/serviceaccount/eks-pod-identity-token",
                    "AWS_CONTAINER_AUTHORIZATION_TOKEN": "ignored-when-file-is-set",
                ]) { $1 },
                files: ["/var/run/secrets/pods.eks.amazonaws.com/serviceaccount/eks-pod-identity-token": "token-from-file\n"]
            )
            let chain = DefaultCredentialChain.make(environment: environment, transport: transport, sts: Self.unreachableSTS(transport))
            let credentials = try await chain.credentials(logger: self.logger)
            #expect(credentials.source == "container")
            #expect(credentials.sigV4 == SigV4Credentials(accessKeyID: "ASIACONTAINER", secretAccessKey: "container-secret", sessionToken: "container-token"))
            #expect(credentials.expiration == Date(timeIntervalSince1970: 4_070_908_800))
            #expect(server.requests.count == 1)
        }
    }

    @Test("ECS relative URI with an inline token")
    func containerRelativeURI() async throws {
        let server = try await LocalHTTPServer.start { request in
            guard request.uri == "/v2/credentials/rel", request.headers.first(name: "authorization") == "inline-token" else {
                return .init(status: .forbidden)
            }
            return .init(status: .ok, body: #"{"AccessKeyId":"ASIAREL","SecretAccessKey":"s","Token":"t","Expiration":"2099-01-01T00:00:00Z"}"#)
        }
        defer { Task { try? await server.stop() } }
        try await TestServers.withTransport { transport in
            let environment = fakeEnvironment([
                "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": "/v2/credentials/rel", "AWS_CONTAINER_AUTHORIZATION_TOKEN": "inline-token",
            ])
            let provider = ContainerCredentialProvider(environment: environment, transport: transport, relativeBase: server.baseURL)
            let credentials = try await provider.credentials(logger: self.logger)
            #expect(credentials.sigV4.accessKeyID == "ASIAREL")
        }
    }

    @Test("a _FULL_URI to a host that is not allowed is refused without a request", arguments: [
        "http://169.254.169.254/latest/meta-data/iam/security-credentials/role",
        "http://example.com/creds",
        "http://10.0.0.5:8080/creds",
        "http://127.0.0.1.example.com/creds",
        "ftp://127.0.0.1/creds",
        "http://user@127.0.0.1/creds",
    ])
    func rejectedFullURI(_ uri: String) async throws {
        try await TestServers.withTransport { transport in
            let environment = fakeEnvironment(Self.noMetadata.merging(["AWS_CONTAINER_CREDENTIALS_FULL_URI": uri, "AWS_CONTAINER_AUTHORIZATION_TOKEN": "secret-token"]) { $1 })
            let chain = DefaultCredentialChain.make(environment: environment, transport: transport, sts: Self.unreachableSTS(transport))
            let error = await #expect(throws: AWSError.self) { try await chain.credentials(logger: self.logger) }
            #expect(error?.code == AWSError.Code.credentialsUnavailable)
            #expect(error?.message.contains("not allowed") == true)
            #expect(error.map { !"\($0)".contains("secret-token") } ?? false)
        }
    }

    @Test("allowed _FULL_URI hosts", arguments: [
        ("https://creds.example.com/v1", true),
        ("http://127.0.0.1:51679/creds", true),
        ("http://127.3.4.5/creds", true),
        ("http://localhost/creds", true),
        ("http://[::1]:8080/creds", true),
        ("http://169.254.170.2/v2/credentials", true),
        ("http://169.254.170.23/v1/credentials", true),
        ("http://[fd00:ec2::23]/v1/credentials", true),
        ("http://169.254.170.3/creds", false),
        ("http://[fd00:ec2::24]/creds", false),
    ])
    func allowedHosts(_ uri: String, _ allowed: Bool) {
        #expect(ContainerCredentialProvider.isAllowedFullURI(uri) == allowed)
    }

    @Test("IMDSv2: a token PUT comes first, and every read carries it")
    func instanceMetadata() async throws {
        let server = try await LocalHTTPServer.start { request in
            switch (request.method, request.uri) {
            case (.PUT, "/latest/api/token"):
                guard request.headers.first(name: "x-aws-ec2-metadata-token-ttl-seconds") == "21600" else { return .init(status: .badRequest) }
                return .init(status: .ok, body: "imds-session-token")
            case (.GET, let uri) where uri.hasPrefix("/latest/meta-data/iam/security-credentials/"):
                // IMDSv2 only: a read without the session token is refused, as on a hardened instance.
                guard request.headers.first(name: "x-aws-ec2-metadata-token") == "imds-session-token" else { return .init(status: .unauthorized) }
                if uri == "/latest/meta-data/iam/security-credentials/" { return .init(status: .ok, body: "sluice-node-role\n") }
                if uri == "/latest/meta-data/iam/security-credentials/sluice-node-role" {
                    return .init(status: .ok, body: """
                        {"Code":"Success","LastUpdated":"2026-01-01T00:00:00Z","Type":"AWS-HMAC","AccessKeyId":"ASIAIMDS","SecretAccessKey":"imds-secret","Token":"imds-token","Expiration":"2099-06-01T12:00:00Z"}
                        """)
                }
                return .init(status: .notFound)
            default:
                return .init(status: .notFound)
            }
        }
        defer { Task { try? await server.stop() } }
        try await TestServers.withTransport { transport in
            let environment = fakeEnvironment(["AWS_EC2_METADATA_SERVICE_ENDPOINT": server.baseURL + "/"])
            let chain = DefaultCredentialChain.make(environment: environment, transport: transport, sts: Self.unreachableSTS(transport))
            let credentials = try await chain.credentials(logger: self.logger)
            #expect(credentials.source == "instance-metadata")
            #expect(credentials.sigV4 == SigV4Credentials(accessKeyID: "ASIAIMDS", secretAccessKey: "imds-secret", sessionToken: "imds-token"))
            let requests = server.requests
            #expect(requests.map(\.method) == [.PUT, .GET, .GET])
            #expect(requests.first?.uri == "/latest/api/token")

            // Disabled: the metadata service is not asked at all.
            let disabled = fakeEnvironment(["AWS_EC2_METADATA_SERVICE_ENDPOINT": server.baseURL, "AWS_EC2_METADATA_DISABLED": "TRUE"])
            let error = await #expect(throws: AWSError.self) {
                try await InstanceMetadataCredentialProvider(environment: disabled, transport: transport).credentials(logger: self.logger)
            }
            #expect(error?.code == AWSError.Code.credentialsNotFound)
            #expect(server.requests.count == 3)
        }
    }

    @Test("an unreachable metadata service means no instance credentials, not a failure")
    func instanceMetadataUnreachable() async throws {
        try await TestServers.withTransport { transport in
            let environment = fakeEnvironment(["AWS_EC2_METADATA_SERVICE_ENDPOINT": "http://127.0.0.1:9"])
            let error = await #expect(throws: AWSError.self) {
                try await InstanceMetadataCredentialProvider(environment: environment, transport: transport).credentials(logger: self.logger)
            }
            #expect(error?.code == AWSError.Code.credentialsNotFound)
        }
    }

    @Test("IMDS that refuses the token PUT is an error, never a tokenless read")
    func instanceMetadataWithoutToken() async throws {
        let server = try await LocalHTTPServer.start { request in
            if request.method == .PUT { return .init(status: .forbidden) }
            return .init(status: .ok, body: "role")
        }
        defer { Task { try? await server.stop() } }
        try await TestServers.withTransport { transport in
            let environment = fakeEnvironment(["AWS_EC2_METADATA_SERVICE_ENDPOINT": server.baseURL])
            let error = await #expect(throws: AWSError.self) {
                try await InstanceMetadataCredentialProvider(environment: environment, transport: transport).credentials(logger: self.logger)
            }
            #expect(error?.code == AWSError.Code.credentialsUnavailable)
            #expect(server.requests.map(\.method) == [.PUT])
        }
    }

    // MARK: Caching

    /// Hands out numbered credentials that expire `lifetime` seconds after the fake clock's now.
    final class CountingProvider: CredentialProvider, Sendable {
        let clock: ManualClock
        let lifetime: TimeInterval
        let delay: Duration
        let count = Mutex(0)
        let failing = Mutex(false)

        init(clock: ManualClock, lifetime: TimeInterval, delay: Duration = .zero) {
            self.clock = clock
            self.lifetime = lifetime
            self.delay = delay
        }

        func credentials(logger: Logger) async throws -> AWSCredentials {
            let number = self.count.withLock { $0 += 1; return $0 }
            if self.delay > .zero { try await Task.sleep(for: self.delay) }
            if self.failing.withLock({ $0 }) {
                throw AWSError.credentialsUnavailable("counting", "down", category: .retryable)
            }
            return AWSCredentials(
                accessKeyID: "AKID\(number)",
                secretAccessKey: "secret\(number)",
                sessionToken: "token\(number)",
                expiration: self.clock.now.addingTimeInterval(self.lifetime),
                source: "counting"
            )
        }
    }

    @Test("credentials are cached and refreshed shortly before they expire")
    func refreshBeforeExpiry() async throws {
        let clock = ManualClock()
        let base = CountingProvider(clock: clock, lifetime: 3600)
        let cache = CachingCredentialProvider(base, refreshMargin: 300, now: clock.function)
        #expect(try await cache.credentials(logger: self.logger).sigV4.accessKeyID == "AKID1")
        clock.advance(3000)
        #expect(try await cache.credentials(logger: self.logger).sigV4.accessKeyID == "AKID1")
        clock.advance(301)  // 299 s left: inside the refresh margin
        #expect(try await cache.credentials(logger: self.logger).sigV4.accessKeyID == "AKID2")
        #expect(try await cache.credentials(logger: self.logger).sigV4.accessKeyID == "AKID2")
        #expect(await cache.fetches == 2)

        // A failed refresh while the old credentials are still valid keeps them in use.
        clock.advance(3400)
        base.failing.withLock { $0 = true }
        #expect(try await cache.credentials(logger: self.logger).sigV4.accessKeyID == "AKID2")
        // Once they have expired, the failure surfaces.
        clock.advance(400)
        await #expect(throws: AWSError.self) { try await cache.credentials(logger: self.logger) }
        base.failing.withLock { $0 = false }
        await cache.invalidate()
        #expect(try await cache.credentials(logger: self.logger).sigV4.accessKeyID.hasPrefix("AKID"))
    }

    @Test("concurrent callers share one refresh", .timeLimit(.minutes(1)))
    func sharedRefresh() async throws {
        let clock = ManualClock()
        let base = CountingProvider(clock: clock, lifetime: 3600, delay: .milliseconds(200))
        let cache = CachingCredentialProvider(base, now: clock.function)
        let keys = try await withThrowingTaskGroup(of: String.self) { group in
            for _ in 0..<32 {
                group.addTask { try await cache.credentials(logger: self.logger).sigV4.accessKeyID }
            }
            return try await group.reduce(into: [String]()) { $0.append($1) }
        }
        #expect(keys.count == 32)
        #expect(Set(keys) == ["AKID1"])
        #expect(base.count.withLock { $0 } == 1)
    }

    @Test("descriptions of credentials never show the secret or the token")
    func redaction() {
        let environment = fakeEnvironment(["AWS_ACCESS_KEY_ID": "AKIDENVIRONMENT", "AWS_SECRET_ACCESS_KEY": "environment-secret-value"])
        for text in ["\(environment)", String(reflecting: environment)] {
            #expect(text.contains("AWS_SECRET_ACCESS_KEY"))
            #expect(!text.contains("environment-secret-value"))
        }
        let credentials = AWSCredentials(
            accessKeyID: "ASIAEXAMPLEKEYID1234",
            secretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY",
            sessionToken: "IQoJb3JpZ2luX2VjEXAMPLETOKEN",
            expiration: Date(timeIntervalSince1970: 0),
            source: "container"
        )
        for text in ["\(credentials)", String(reflecting: credentials), credentials.description] {
            #expect(!text.contains("wJalrXUtnFEMI"))
            #expect(!text.contains("IQoJb3JpZ2luX2VjEXAMPLETOKEN"))
            #expect(!text.contains("ASIAEXAMPLEKEYID1234"))
            #expect(text.contains("container"))
        }
    }
}
