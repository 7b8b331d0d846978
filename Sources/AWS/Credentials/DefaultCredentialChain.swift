public import Foundation

/// The credential chain in the AWS SDKs' order, cached and refreshed before expiry:
/// 1. environment (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`);
/// 2. web identity (`AWS_WEB_IDENTITY_TOKEN_FILE` + `AWS_ROLE_ARN`);
/// 3. the shared config and credentials files, profile `AWS_PROFILE` or `default`;
/// 4. ECS / EKS container credentials;
/// 5. EC2 instance metadata (IMDSv2).
public enum DefaultCredentialChain {
    /// Builds the chain. `sts` serves the web-identity and assume-role steps.
    public static func make(
        environment: AWSEnvironment,
        transport: AWSHTTPTransport,
        sts: STSClient,
        refreshMargin: TimeInterval = 300,
        now: @escaping @Sendable () -> Date = { Date() }
    ) -> CachingCredentialProvider {
        CachingCredentialProvider(
            CredentialProviderChain([
                EnvironmentCredentialProvider(environment: environment),
                WebIdentityCredentialProvider(environment: environment, sts: sts),
                ProfileCredentialProvider(environment: environment, sts: sts),
                ContainerCredentialProvider(environment: environment, transport: transport),
                InstanceMetadataCredentialProvider(environment: environment, transport: transport),
            ]),
            refreshMargin: refreshMargin,
            now: now
        )
    }
}
