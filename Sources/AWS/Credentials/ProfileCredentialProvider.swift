import Foundation
public import Logging

/// A profile of the shared config and credentials files (`AWS_PROFILE`, else `default`):
/// static keys, `role_arn` + `source_profile` (STS AssumeRole with the source profile's keys),
/// or `role_arn` + `web_identity_token_file`.
public struct ProfileCredentialProvider: CredentialProvider {
    let environment: AWSEnvironment
    let sts: STSClient
    let profileOverride: String?

    /// Reads the files named by `AWS_CONFIG_FILE` / `AWS_SHARED_CREDENTIALS_FILE` (or the
    /// defaults under `~/.aws`) through `environment` on each call.
    public init(environment: AWSEnvironment, sts: STSClient, profile: String? = nil) {
        self.environment = environment
        self.sts = sts
        self.profileOverride = profile
    }

    public func credentials(logger: Logger) async throws -> AWSCredentials {
        let name = self.profileOverride ?? self.environment.profileName
        let explicit = self.profileOverride != nil || self.environment["AWS_PROFILE"] != nil
        let shared: SharedConfig
        do {
            shared = try SharedConfig.load(environment: self.environment)
        } catch {
            throw AWSError.credentialsUnavailable("profile:\(name)", "cannot read the shared config files")
        }
        guard shared.profile(name) != nil else {
            if explicit {
                throw AWSError.credentialsUnavailable("profile:\(name)", "profile not found in the shared config files")
            }
            throw AWSError.credentialsNotFound("profile:\(name)", "no such profile in the shared config files")
        }
        return try await self.resolve(name, shared: shared, visited: [], logger: logger)
    }

    private func resolve(_ name: String, shared: SharedConfig, visited: [String], logger: Logger) async throws -> AWSCredentials {
        let source = "profile:\(name)"
        guard visited.count < 5, !visited.contains(name) else {
            throw AWSError.credentialsUnavailable(source, "source_profile chain loops or is deeper than 5")
        }
        guard let profile = shared.profile(name) else {
            throw AWSError.credentialsUnavailable(source, "source profile not found")
        }
        if let roleARN = profile["role_arn"] {
            let sessionName = profile["role_session_name"] ?? "sluice-\(Int(Date().timeIntervalSince1970))"
            let duration = profile["duration_seconds"].flatMap(Int.init)
            if let tokenFile = profile["web_identity_token_file"] {
                guard let token = try self.environment.readText(self.environment.expandingHome(tokenFile))?.trimmingWhitespace,
                    !token.isEmpty
                else { throw AWSError.credentialsUnavailable(source, "web_identity_token_file is missing or empty") }
                var credentials = try await self.sts.assumeRoleWithWebIdentity(
                    roleARN: roleARN, sessionName: sessionName, webIdentityToken: token, durationSeconds: duration, logger: logger
                )
                credentials.source = source
                return credentials
            }
            guard let sourceProfile = profile["source_profile"] else {
                throw AWSError.credentialsUnavailable(source, "role_arn needs source_profile or web_identity_token_file")
            }
            let sourceCredentials: AWSCredentials
            if sourceProfile == name {
                // A profile may name itself as source: its own static keys sign the AssumeRole.
                sourceCredentials = try Self.staticCredentials(profile, source: source)
            } else {
                sourceCredentials = try await self.resolve(sourceProfile, shared: shared, visited: visited + [name], logger: logger)
            }
            var credentials = try await self.sts.assumeRole(
                roleARN: roleARN,
                sessionName: sessionName,
                durationSeconds: duration,
                using: StaticCredentialProvider(sourceCredentials),
                logger: logger
            )
            credentials.source = source
            return credentials
        }
        return try Self.staticCredentials(profile, source: source)
    }

    static func staticCredentials(_ profile: [String: String], source: String) throws -> AWSCredentials {
        guard let accessKey = profile["aws_access_key_id"], !accessKey.isEmpty else {
            throw AWSError.credentialsUnavailable(source, "profile has no aws_access_key_id")
        }
        guard let secret = profile["aws_secret_access_key"], !secret.isEmpty else {
            throw AWSError.credentialsUnavailable(source, "profile has no aws_secret_access_key")
        }
        let token = profile["aws_session_token"].flatMap { $0.isEmpty ? nil : $0 }
        return AWSCredentials(accessKeyID: accessKey, secretAccessKey: secret, sessionToken: token, source: source)
    }
}

/// EKS IAM Roles for Service Accounts: `AWS_WEB_IDENTITY_TOKEN_FILE` + `AWS_ROLE_ARN`
/// (+ `AWS_ROLE_SESSION_NAME`), exchanged with STS AssumeRoleWithWebIdentity. The token file is
/// read again on every refresh, since the kubelet rotates it.
public struct WebIdentityCredentialProvider: CredentialProvider {
    let environment: AWSEnvironment
    let sts: STSClient

    /// Reads the variables from `environment` on each call.
    public init(environment: AWSEnvironment, sts: STSClient) {
        self.environment = environment
        self.sts = sts
    }

    public func credentials(logger: Logger) async throws -> AWSCredentials {
        guard let tokenFile = self.environment["AWS_WEB_IDENTITY_TOKEN_FILE"] else {
            throw AWSError.credentialsNotFound("web-identity", "AWS_WEB_IDENTITY_TOKEN_FILE is not set")
        }
        guard let roleARN = self.environment["AWS_ROLE_ARN"] else {
            throw AWSError.credentialsNotFound("web-identity", "AWS_ROLE_ARN is not set")
        }
        let token: String
        do {
            guard let text = try self.environment.readText(tokenFile)?.trimmingWhitespace, !text.isEmpty else {
                throw AWSError.credentialsUnavailable("web-identity", "token file \(tokenFile) is missing or empty")
            }
            token = text
        } catch let error as AWSError {
            throw error
        } catch {
            throw AWSError.credentialsUnavailable("web-identity", "cannot read token file \(tokenFile)")
        }
        let sessionName = self.environment["AWS_ROLE_SESSION_NAME"] ?? "sluice-\(Int(Date().timeIntervalSince1970))"
        var credentials = try await self.sts.assumeRoleWithWebIdentity(
            roleARN: roleARN,
            sessionName: sessionName,
            webIdentityToken: token,
            durationSeconds: nil,
            logger: logger
        )
        credentials.source = "web-identity"
        return credentials
    }
}
