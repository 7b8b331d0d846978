@testable import AWS
import AWSSigV4
import Foundation
import Logging
import Testing

/// STS and the web-identity credential source against the moto server.
@Suite("STS against moto", .enabled(if: TestServers.motoShouldRun, "SLUICE_TEST_S3_ENDPOINT is not set"))
struct STSMotoTests {
    let logger = TestServers.logger
    let roleARN = "arn:aws:iam::123456789012:role/sluice-loader"

    func withSTS<T>(_ body: (STSClient, AWSHTTPTransport) async throws -> T) async throws -> T {
        let endpoint = try AWSEndpoint(url: try TestServers.requireMoto())
        return try await TestServers.withTransport { transport in
            try await body(STSClient(configuration: ServiceConfiguration(region: "us-east-1", endpoint: endpoint), transport: transport), transport)
        }
    }

    @Test("AssumeRoleWithWebIdentity returns temporary credentials")
    func webIdentity() async throws {
        try await self.withSTS { sts, _ in
            let credentials = try await sts.assumeRoleWithWebIdentity(
                roleARN: self.roleARN,
                sessionName: "sluice-test",
                webIdentityToken: "eyJhbGciOiJSUzI1NiJ9.payload.signature",
                durationSeconds: 900,
                logger: self.logger
            )
            #expect(!credentials.sigV4.accessKeyID.isEmpty)
            #expect(!credentials.sigV4.secretAccessKey.isEmpty)
            #expect(credentials.sigV4.sessionToken?.isEmpty == false)
            let expiration = try #require(credentials.expiration)
            #expect(expiration > Date())
        }
    }

    @Test("AssumeRole signs with the source credentials")
    func assumeRole() async throws {
        try await self.withSTS { sts, _ in
            let credentials = try await sts.assumeRole(
                roleARN: self.roleARN,
                sessionName: "sluice-test",
                using: TestServers.motoCredentials,
                logger: self.logger
            )
            #expect(credentials.sigV4.sessionToken != nil)
            #expect(credentials.expiration != nil)
        }
    }

    @Test("the chain takes web identity from AWS_WEB_IDENTITY_TOKEN_FILE and AWS_ROLE_ARN, ahead of a profile")
    func chainWebIdentity() async throws {
        try await self.withSTS { sts, transport in
            let environment = fakeEnvironment(
                [
                    "AWS_WEB_IDENTITY_TOKEN_FILE": "/var/run/secrets/eks.amazonaws.com/serviceaccount/token",
                    "AWS_ROLE_ARN": self.roleARN,
                    "AWS_ROLE_SESSION_NAME": "sluice-irsa",
                    "HOME": "/home/sluice",
                    "AWS_EC2_METADATA_DISABLED": "true",
                ],
                files: [
                    "/var/run/secrets/eks.amazonaws.com/serviceaccount/token": "eyJhbGciOiJSUzI1NiJ9.irsa.token\n",
                    "/home/sluice/.aws/credentials": "[default]\naws_access_key_id = AKIDPROFILE\naws_secret_access_key = profile-secret\n",
                ]
            )
            let chain = DefaultCredentialChain.make(environment: environment, transport: transport, sts: sts)
            let credentials = try await chain.credentials(logger: self.logger)
            #expect(credentials.source == "web-identity")
            #expect(credentials.sigV4.accessKeyID != "AKIDPROFILE")
            #expect(credentials.sigV4.sessionToken != nil)
        }
    }

    @Test("a profile with role_arn and web_identity_token_file uses web identity")
    func profileWebIdentity() async throws {
        try await self.withSTS { sts, _ in
            let environment = fakeEnvironment(
                ["HOME": "/home/sluice"],
                files: [
                    "/home/sluice/.aws/config": "[default]\nrole_arn = \(self.roleARN)\nweb_identity_token_file = ~/token\n",
                    "/home/sluice/token": "eyJhbGciOiJSUzI1NiJ9.profile.token",
                ]
            )
            let credentials = try await ProfileCredentialProvider(environment: environment, sts: sts).credentials(logger: self.logger)
            #expect(credentials.source == "profile:default")
            #expect(credentials.sigV4.sessionToken != nil)
            #expect(credentials.expiration != nil)
        }
    }

    @Test("a profile with role_arn and source_profile assumes the role with the source's keys")
    func profileAssumeRole() async throws {
        try await self.withSTS { sts, _ in
            let environment = fakeEnvironment(
                ["AWS_PROFILE": "loader", "AWS_CONFIG_FILE": "/etc/aws/config", "AWS_SHARED_CREDENTIALS_FILE": "/etc/aws/credentials"],
                files: [
                    "/etc/aws/config": "[profile loader]\nrole_arn = \(self.roleARN)\nsource_profile = base\nregion = eu-west-1\n",
                    "/etc/aws/credentials": "[base]\naws_access_key_id = AKIDBASE\naws_secret_access_key = base-secret\n",
                ]
            )
            let credentials = try await ProfileCredentialProvider(environment: environment, sts: sts).credentials(logger: self.logger)
            #expect(credentials.source == "profile:loader")
            #expect(credentials.sigV4.accessKeyID != "AKIDBASE")
            #expect(credentials.sigV4.sessionToken != nil)
        }
    }
}
