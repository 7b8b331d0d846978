import AsyncHTTPClient
import Foundation
public import Logging
import NIOCore
import NIOHTTP1

/// ECS / EKS Pod Identity container credentials.
///
/// `AWS_CONTAINER_CREDENTIALS_RELATIVE_URI` is fetched from `http://169.254.170.2`.
/// `AWS_CONTAINER_CREDENTIALS_FULL_URI` is accepted only for https, a loopback host, or the
/// ECS/EKS link-local hosts 169.254.170.2, 169.254.170.23 and fd00:ec2::23, so that a tampered
/// variable cannot send the authorization token elsewhere. The token comes from
/// `AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE` (read on each refresh) or
/// `AWS_CONTAINER_AUTHORIZATION_TOKEN`.
public struct ContainerCredentialProvider: CredentialProvider {
    let environment: AWSEnvironment
    let transport: AWSHTTPTransport
    let relativeBase: String

    /// Reads the variables from `environment` on each call.
    public init(environment: AWSEnvironment, transport: AWSHTTPTransport) {
        self.init(environment: environment, transport: transport, relativeBase: "http://169.254.170.2")
    }

    /// `relativeBase` replaces `http://169.254.170.2` (tests on loopback).
    package init(environment: AWSEnvironment, transport: AWSHTTPTransport, relativeBase: String) {
        self.environment = environment
        self.transport = transport
        self.relativeBase = relativeBase
    }

    static let allowedLinkLocalHosts: Set<String> = ["169.254.170.2", "169.254.170.23", "fd00:ec2::23"]

    /// Whether a full URI may receive the container authorization token.
    public static func isAllowedFullURI(_ uri: String) -> Bool {
        guard let endpoint = try? AWSEndpoint(url: uri) else { return false }
        if endpoint.scheme == "https" { return true }
        let host = endpoint.host
        if self.allowedLinkLocalHosts.contains(host) { return true }
        if host == "localhost" || host == "::1" || host == "0:0:0:0:0:0:0:1" { return true }
        let parts = host.split(separator: ".", omittingEmptySubsequences: false)
        if parts.count == 4, parts.allSatisfy({ UInt8($0) != nil }), parts[0] == "127" { return true }
        return false
    }

    public func credentials(logger: Logger) async throws -> AWSCredentials {
        let url: String
        if let relative = self.environment["AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"] {
            guard relative.hasPrefix("/"), !relative.contains("@"), !relative.contains("#") else {
                throw AWSError.credentialsUnavailable("container", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI must be a path")
            }
            url = self.relativeBase + relative
        } else if let full = self.environment["AWS_CONTAINER_CREDENTIALS_FULL_URI"] {
            guard Self.isAllowedFullURI(full) else {
                throw AWSError.credentialsUnavailable(
                    "container",
                    "AWS_CONTAINER_CREDENTIALS_FULL_URI host is not allowed (only https, loopback, 169.254.170.2, 169.254.170.23, fd00:ec2::23)"
                )
            }
            url = full
        } else {
            throw AWSError.credentialsNotFound("container", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI and _FULL_URI are not set")
        }
        var request = HTTPClientRequest(url: url)
        request.method = .GET
        request.headers.add(name: "Accept", value: "application/json")
        if let token = try self.authorizationToken() {
            request.headers.add(name: "Authorization", value: token)
        }
        let body = try await MetadataHTTP.fetch(request, transport: self.transport, source: "container", logger: logger)
        return try MetadataHTTP.decodeCredentials(body, source: "container")
    }

    private func authorizationToken() throws -> String? {
        var token: String?
        if let file = self.environment["AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"] {
            guard let text = try? self.environment.readText(file) else {
                throw AWSError.credentialsUnavailable("container", "cannot read AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE")
            }
            token = text.trimmingWhitespace
        } else {
            token = self.environment["AWS_CONTAINER_AUTHORIZATION_TOKEN"]
        }
        if let token, token.contains("\r") || token.contains("\n") {
            throw AWSError.credentialsUnavailable("container", "the authorization token contains a line break")
        }
        return token
    }
}

/// EC2 instance metadata (IMDSv2 only): a session token is obtained with `PUT
/// /latest/api/token` first, and the credentials are read with it; the tokenless v1 flow is
/// never used. Disabled by `AWS_EC2_METADATA_DISABLED=true`; the endpoint is
/// `AWS_EC2_METADATA_SERVICE_ENDPOINT`, else `http://169.254.169.254` (or `http://[fd00:ec2::254]`
/// when `AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE=IPv6`).
public struct InstanceMetadataCredentialProvider: CredentialProvider {
    let environment: AWSEnvironment
    let transport: AWSHTTPTransport

    /// Reads the variables from `environment` on each call.
    public init(environment: AWSEnvironment, transport: AWSHTTPTransport) {
        self.environment = environment
        self.transport = transport
    }

    static let tokenTTLSeconds = 21_600

    public func credentials(logger: Logger) async throws -> AWSCredentials {
        if self.environment["AWS_EC2_METADATA_DISABLED"]?.lowercased() == "true" {
            throw AWSError.credentialsNotFound("instance-metadata", "AWS_EC2_METADATA_DISABLED is true")
        }
        var base = self.environment["AWS_EC2_METADATA_SERVICE_ENDPOINT"]
            ?? (self.environment["AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE"]?.lowercased() == "ipv6"
                ? "http://[fd00:ec2::254]" : "http://169.254.169.254")
        while base.hasSuffix("/") { base.removeLast() }

        var tokenRequest = HTTPClientRequest(url: base + "/latest/api/token")
        tokenRequest.method = .PUT
        tokenRequest.headers.add(name: "X-aws-ec2-metadata-token-ttl-seconds", value: String(Self.tokenTTLSeconds))
        let token: String
        do {
            token = String(
                decoding: try await MetadataHTTP.fetch(tokenRequest, transport: self.transport, source: "instance-metadata", logger: logger),
                as: UTF8.self
            ).trimmingWhitespace
        } catch let error as AWSError where error.code == AWSError.Code.networkError {
            // Not on EC2 (or IMDS unreachable): this source is simply not available.
            throw AWSError.credentialsNotFound("instance-metadata", "no instance metadata service answered")
        }
        guard !token.isEmpty, !token.contains("\n"), !token.contains("\r") else {
            throw AWSError.credentialsUnavailable("instance-metadata", "the metadata service returned an unusable session token")
        }

        var roleRequest = HTTPClientRequest(url: base + "/latest/meta-data/iam/security-credentials/")
        roleRequest.headers.add(name: "X-aws-ec2-metadata-token", value: token)
        let roles = String(
            decoding: try await MetadataHTTP.fetch(roleRequest, transport: self.transport, source: "instance-metadata", logger: logger),
            as: UTF8.self
        )
        guard let role = roles.split(whereSeparator: { $0 == "\n" || $0 == "\r" }).first.map({ String($0).trimmingWhitespace }),
            !role.isEmpty, !role.contains("/"), !role.contains("?"), !role.contains("#"), !role.contains("%")
        else {
            throw AWSError.credentialsUnavailable("instance-metadata", "the instance has no usable IAM role")
        }
        var credentialsRequest = HTTPClientRequest(url: base + "/latest/meta-data/iam/security-credentials/" + role)
        credentialsRequest.headers.add(name: "X-aws-ec2-metadata-token", value: token)
        let body = try await MetadataHTTP.fetch(credentialsRequest, transport: self.transport, source: "instance-metadata", logger: logger)
        return try MetadataHTTP.decodeCredentials(body, source: "instance-metadata")
    }
}

/// The small JSON documents of the container and instance metadata endpoints.
enum MetadataHTTP {
    static let timeout = TimeAmount.seconds(5)
    static let maxBytes = 64 * 1024

    struct CredentialsDocument: Decodable {
        var Code: String?
        var AccessKeyId: String?
        var SecretAccessKey: String?
        var Token: String?
        var Expiration: String?
    }

    static func fetch(_ request: HTTPClientRequest, transport: AWSHTTPTransport, source: String, logger: Logger) async throws -> [UInt8] {
        let response: HTTPClientResponse
        do {
            // No logger for the HTTP client: its trace output would include the token headers.
            response = try await transport.httpClient.execute(request, timeout: self.timeout)
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            throw AWSError(
                code: AWSError.Code.networkError,
                category: .retryable,
                message: "\(source): \(AWSRequester.transportReason(error))",
                service: "credentials",
                operation: source
            )
        }
        let status = Int(response.status.code)
        let body: ByteBuffer
        do {
            body = try await response.body.collect(upTo: self.maxBytes)
        } catch {
            throw AWSError.credentialsUnavailable(source, "the response could not be read", category: .retryable)
        }
        guard (200..<300).contains(status) else {
            throw AWSError(
                code: AWSError.Code.credentialsUnavailable,
                httpStatus: status,
                category: AWSError.category(code: "", status: status),
                message: "\(source): the credentials endpoint answered HTTP \(status)",
                service: "credentials",
                operation: source
            )
        }
        return Array(body.readableBytesView)
    }

    static func decodeCredentials(_ body: [UInt8], source: String) throws -> AWSCredentials {
        guard let document = try? JSONDecoder().decode(CredentialsDocument.self, from: Data(body)) else {
            throw AWSError.credentialsUnavailable(source, "the credentials document is not valid JSON", category: .retryable)
        }
        if let code = document.Code, code != "Success" {
            throw AWSError.credentialsUnavailable(source, "the credentials endpoint reported \(code.prefix(64))", category: .retryable)
        }
        guard let accessKey = document.AccessKeyId, !accessKey.isEmpty,
            let secret = document.SecretAccessKey, !secret.isEmpty
        else {
            throw AWSError.credentialsUnavailable(source, "the credentials document lacks AccessKeyId or SecretAccessKey", category: .retryable)
        }
        var expiration: Date?
        if let text = document.Expiration {
            guard let date = AWSDate.parseISO8601(text) else {
                throw AWSError.credentialsUnavailable(source, "the credentials document has an unreadable Expiration", category: .retryable)
            }
            expiration = date
        }
        return AWSCredentials(
            accessKeyID: accessKey,
            secretAccessKey: secret,
            sessionToken: document.Token.flatMap { $0.isEmpty ? nil : $0 },
            expiration: expiration,
            source: source
        )
    }
}
