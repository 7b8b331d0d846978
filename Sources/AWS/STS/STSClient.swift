import AWSSigV4
public import Foundation
public import Logging
import NIOCore
import NIOHTTP1

/// AWS Security Token Service (query protocol, XML responses): AssumeRoleWithWebIdentity for
/// EKS IRSA and AssumeRole.
public struct STSClient: Sendable {
    let transport: AWSHTTPTransport
    let configuration: ServiceConfiguration
    let now: @Sendable () -> Date
    let skew = ClockSkew()

    /// Creates a client; `configuration.endpoint` overrides `https://sts.<region>.amazonaws.com`.
    public init(configuration: ServiceConfiguration, transport: AWSHTTPTransport, now: @escaping @Sendable () -> Date = { Date() }) {
        self.transport = transport
        self.configuration = configuration
        self.now = now
    }

    static let version = "2011-06-15"
    static let timeout = TimeAmount.seconds(30)

    /// Exchanges an OIDC token for role credentials. The request is not signed (STS
    /// authenticates it by the token).
    public func assumeRoleWithWebIdentity(
        roleARN: String,
        sessionName: String,
        webIdentityToken: String,
        durationSeconds: Int? = nil,
        logger: Logger
    ) async throws -> AWSCredentials {
        var parameters = [
            ("Action", "AssumeRoleWithWebIdentity"), ("Version", Self.version), ("RoleArn", roleARN),
            ("RoleSessionName", sessionName), ("WebIdentityToken", webIdentityToken),
        ]
        if let durationSeconds { parameters.append(("DurationSeconds", String(durationSeconds))) }
        let root = try await self.call("AssumeRoleWithWebIdentity", parameters, credentials: nil, resource: roleARN, logger: logger)
        return try self.credentials(from: root, result: "AssumeRoleWithWebIdentityResult", operation: "AssumeRoleWithWebIdentity")
    }

    /// Assumes a role, signing the call with `credentials`.
    public func assumeRole(
        roleARN: String,
        sessionName: String,
        durationSeconds: Int? = nil,
        using credentials: any CredentialProvider,
        logger: Logger
    ) async throws -> AWSCredentials {
        var parameters = [("Action", "AssumeRole"), ("Version", Self.version), ("RoleArn", roleARN), ("RoleSessionName", sessionName)]
        if let durationSeconds { parameters.append(("DurationSeconds", String(durationSeconds))) }
        let root = try await self.call("AssumeRole", parameters, credentials: credentials, resource: roleARN, logger: logger)
        return try self.credentials(from: root, result: "AssumeRoleResult", operation: "AssumeRole")
    }

    private func call(
        _ operation: String,
        _ parameters: [(String, String)],
        credentials: (any CredentialProvider)?,
        resource: String,
        logger: Logger
    ) async throws -> XMLElement {
        let body = Array(parameters.map { "\(SigV4URIEncoding.encode($0.0))=\(SigV4URIEncoding.encode($0.1))" }.joined(separator: "&").utf8)
        let endpoint = self.configuration.resolvedEndpoint(service: "sts")
        let requester = AWSRequester(
            transport: self.transport,
            endpoint: endpoint,
            service: "sts",
            region: self.configuration.region,
            options: .standard,
            credentials: credentials,
            now: self.now,
            skew: self.skew,
            parseError: XMLErrorParser.parse
        )
        let request = AWSRequest(
            method: .POST,
            path: endpoint.basePath.isEmpty ? "/" : endpoint.basePath + "/",
            headers: [SigV4Header("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")],
            body: body,
            payload: .bytes(body),
            operation: operation,
            resource: resource
        )
        let response = try await requester.send(request, timeout: Self.timeout, logger: logger)
        let bytes = try await requester.collect(response, limit: 1024 * 1024, request: request)
        do {
            return try XMLReader.parse(bytes)
        } catch {
            throw requester.invalidResponse(request, "\(error)")
        }
    }

    private func credentials(from root: XMLElement, result: String, operation: String) throws -> AWSCredentials {
        guard let credentials = root.child(result)?.child("Credentials"),
            let accessKey = credentials.string("AccessKeyId"), !accessKey.isEmpty,
            let secret = credentials.string("SecretAccessKey"), !secret.isEmpty,
            let token = credentials.string("SessionToken"), !token.isEmpty,
            let expirationText = credentials.string("Expiration"),
            let expiration = AWSDate.parseISO8601(expirationText)
        else {
            throw AWSError(
                code: AWSError.Code.invalidResponse,
                category: .retryable,
                message: "the response has no complete Credentials element",
                service: "sts",
                operation: operation
            )
        }
        return AWSCredentials(accessKeyID: accessKey, secretAccessKey: secret, sessionToken: token, expiration: expiration, source: "sts")
    }
}

/// Error bodies of the XML services: S3's `<Error>` and the query protocol's
/// `<ErrorResponse><Error>`.
enum XMLErrorParser {
    @Sendable
    static func parse(status: Int, headers: HTTPHeaders, body: [UInt8]) -> ParsedServiceError? {
        guard !body.isEmpty, let root = try? XMLReader.parse(body) else { return nil }
        let error = root.name == "Error" ? root : root.child("Error")
        guard let error, let code = error.string("Code"), !code.isEmpty else { return nil }
        return ParsedServiceError(
            code: code,
            message: error.string("Message") ?? "",
            requestID: error.string("RequestId") ?? root.string("RequestId")
        )
    }
}
