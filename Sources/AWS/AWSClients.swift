public import Foundation

/// Everything a Sluice process needs from AWS, built from one configuration: the shared
/// transport, the cached default credential chain, and the S3, SQS and STS clients.
public struct AWSClients: Sendable {
    /// The configuration the clients were built from.
    public let configuration: AWSConfiguration
    /// The HTTP transport all clients share.
    public let transport: AWSHTTPTransport
    /// The credentials every signed request uses.
    public let credentials: any CredentialProvider
    /// S3 reads.
    public let s3: S3Client
    /// SQS intake and dead-lettering.
    public let sqs: SQSClient
    /// STS (also used by the credential chain).
    public let sts: STSClient

    /// Builds the clients. Without `credentials`, the default chain (environment, web identity,
    /// shared files, container, instance metadata) is used, cached and refreshed before expiry.
    public init(
        configuration: AWSConfiguration,
        environment: AWSEnvironment = .process,
        credentials: (any CredentialProvider)? = nil,
        now: @escaping @Sendable () -> Date = { Date() },
        observer: AWSHTTPTransport.RequestObserver? = nil
    ) {
        self.configuration = configuration
        self.transport = AWSHTTPTransport(configuration: configuration.http, observer: observer)
        self.sts = STSClient(configuration: configuration.sts, transport: self.transport, now: now)
        self.credentials = credentials
            ?? DefaultCredentialChain.make(environment: environment, transport: self.transport, sts: self.sts, now: now)
        self.s3 = S3Client(configuration: configuration.s3, credentials: self.credentials, transport: self.transport, now: now)
        self.sqs = SQSClient(configuration: configuration.sqs, credentials: self.credentials, transport: self.transport, now: now)
    }

    /// Shuts the shared transport down; the clients cannot be used afterwards.
    public func shutdown() async throws {
        try await self.transport.shutdown()
    }
}
