public import AsyncHTTPClient
import AWSSigV4
import Foundation
import Logging
import NIOCore
import NIOHTTP1
package import NIOSSL
import Synchronization

/// The HTTP client every AWS client here sends through.
///
/// https connections verify the server certificate against the system trust roots and refuse
/// anything older than TLS 1.2; redirects are never followed (a redirect could carry a signed
/// request to another host); responses are not decompressed.
public final class AWSHTTPTransport: Sendable {
    /// The underlying client, for callers that need to share it.
    public let httpClient: HTTPClient
    let configuration: AWSHTTPConfiguration
    let ownsClient: Bool
    let observer: RequestObserver?

    /// Called once per API call with its service (`s3`, `sqs`, `sts`), operation (`GetObject`, …), outcome (`ok`,
    /// `client_error`, `server_error` or `network_error`) and the time until the response head arrived (a streamed
    /// body is not included), for metrics. It must not block.
    public typealias RequestObserver = @Sendable (_ service: String, _ operation: String, _ outcome: String, _ duration: Duration) -> Void

    /// Creates a transport with its own HTTP client. Call ``shutdown()`` when done.
    public init(configuration: AWSHTTPConfiguration = AWSHTTPConfiguration(), observer: RequestObserver? = nil) {
        self.configuration = configuration
        self.observer = observer
        self.httpClient = HTTPClient(
            eventLoopGroup: HTTPClient.defaultEventLoopGroup,
            configuration: Self.clientConfiguration(configuration)
        )
        self.ownsClient = true
    }

    /// The TLS settings: full certificate verification, TLS 1.2 or newer.
    package static func tlsConfiguration() -> TLSConfiguration {
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.minimumTLSVersion = .tlsv12
        tls.certificateVerification = .fullVerification
        return tls
    }

    static func clientConfiguration(_ configuration: AWSHTTPConfiguration) -> HTTPClient.Configuration {
        var client = HTTPClient.Configuration(
            tlsConfiguration: Self.tlsConfiguration(),
            redirectConfiguration: .disallow,
            timeout: .init(
                connect: .seconds(Int64(configuration.connectTimeoutSeconds)),
                read: .seconds(Int64(configuration.readTimeoutSeconds))
            ),
            decompression: .disabled
        )
        client.httpVersion = .http1Only
        // A refused or failed connection is reported at once as a retryable network error; the
        // caller's retry policy owns the backoff.
        client.connectionPool.retryConnectionEstablishment = false
        return client
    }

    /// Shuts the HTTP client down.
    public func shutdown() async throws {
        if self.ownsClient { try await self.httpClient.shutdown() }
    }
}

/// Clock offset learned from `RequestTimeTooSkewed`-style answers, shared by every request of
/// one client so that later requests are signed with the corrected time.
final class ClockSkew: Sendable {
    private let offset = Mutex<TimeInterval>(0)
    var value: TimeInterval { self.offset.withLock { $0 } }
    func set(_ value: TimeInterval) { self.offset.withLock { $0 = value } }
}

/// One request before signing.
struct AWSRequest: Sendable {
    var method: HTTPMethod
    var path: String
    var query: [SigV4QueryItem] = []
    var headers: [SigV4Header] = []
    var body: [UInt8]? = nil
    var payload: SigV4Payload
    var operation: String
    var resource: String?
}

/// What a service's error body says.
struct ParsedServiceError {
    var code: String
    var message: String
    var requestID: String? = nil
}

/// Signs and sends requests for one service, with the two retries AWS prescribes: a re-sign with
/// the server's clock after a skew error, and a credential refresh after an expired token.
struct AWSRequester: Sendable {
    let transport: AWSHTTPTransport
    let endpoint: AWSEndpoint
    let service: String
    let region: String
    let options: SigV4Options
    /// nil sends the request unsigned (STS AssumeRoleWithWebIdentity).
    let credentials: (any CredentialProvider)?
    let now: @Sendable () -> Date
    let skew: ClockSkew
    /// Extracts code and message from an error response body (service-specific format).
    let parseError: @Sendable (_ status: Int, _ headers: HTTPHeaders, _ body: [UInt8]) -> ParsedServiceError?

    static let maxErrorBodyBytes = 64 * 1024

    /// Sends a request; returns the response for 2xx, throws ``AWSError`` otherwise.
    func send(_ request: AWSRequest, timeout: TimeAmount, logger: Logger) async throws -> HTTPClientResponse {
        let observer = self.transport.observer
        let started = ContinuousClock.now
        do {
            let response = try await self.exchange(request, timeout: timeout, logger: logger)
            observer?(self.service, request.operation, "ok", ContinuousClock.now - started)
            return response
        } catch {
            if let observer {
                let outcome: String
                switch (error as? AWSError)?.httpStatus {
                case .some(let status) where status >= 500: outcome = "server_error"
                case .some: outcome = "client_error"
                case .none: outcome = error is CancellationError ? "cancelled" : "network_error"
                }
                observer(self.service, request.operation, outcome, ContinuousClock.now - started)
            }
            throw error
        }
    }

    private func exchange(_ request: AWSRequest, timeout: TimeAmount, logger: Logger) async throws -> HTTPClientResponse {
        var refreshedCredentials = false
        var resigned = false
        while true {
            let credentials = try await self.credentials?.credentials(logger: logger)
            let signingDate = self.now().addingTimeInterval(self.skew.value)
            let response = try await self.execute(request, credentials: credentials?.sigV4, date: signingDate, timeout: timeout, logger: logger)
            let status = Int(response.status.code)
            if (200..<300).contains(status) {
                logger.trace("aws request done", metadata: self.metadata(request, status: status))
                return response
            }
            let error = try await self.error(from: response, request: request)
            if !resigned, AWSError.clockSkewCodes.contains(error.code),
                let serverDate = response.headers.first(name: "date").flatMap(AWSDate.parseHTTPDate),
                abs(serverDate.timeIntervalSince(signingDate)) > 240
            {
                resigned = true
                self.skew.set(serverDate.timeIntervalSince(self.now()))
                logger.notice("aws clock skew corrected", metadata: self.metadata(request, status: status))
                continue
            }
            if !refreshedCredentials, AWSError.expiredTokenCodes.contains(error.code), let provider = self.credentials,
                credentials?.canRefresh == true
            {
                refreshedCredentials = true
                await provider.invalidate()
                logger.notice("aws credentials expired, refreshing", metadata: self.metadata(request, status: status))
                continue
            }
            logger.debug(
                "aws request failed",
                metadata: self.metadata(request, status: status).merging(
                    ["aws.error_code": "\(error.code)", "aws.request_id": "\(error.requestID ?? "")"],
                    uniquingKeysWith: { $1 }
                )
            )
            throw error
        }
    }

    func metadata(_ request: AWSRequest, status: Int) -> Logger.Metadata {
        ["aws.service": "\(self.service)", "aws.operation": "\(request.operation)", "http.status": "\(status)"]
    }

    private func execute(
        _ request: AWSRequest,
        credentials: SigV4Credentials?,
        date: Date,
        timeout: TimeAmount,
        logger: Logger
    ) async throws -> HTTPClientResponse {
        // Content-Length is left to the HTTP client and not signed, so nothing it adjusts can
        // invalidate the signature.
        var headers = [SigV4Header("Host", self.endpoint.hostHeader)]
        headers += request.headers
        var finalHeaders = headers
        if let credentials {
            let signer = SigV4Signer(credentials: credentials, region: self.region, service: self.service, options: self.options)
            finalHeaders = signer.signHeaders(
                SigV4Request(method: request.method.rawValue, path: request.path, query: request.query, headers: headers),
                payload: request.payload,
                date: date
            ).headers
        }
        var url = self.endpoint.origin + request.path
        if !request.query.isEmpty { url += "?" + SigV4Signer.encodeQuery(request.query) }
        var httpRequest = HTTPClientRequest(url: url)
        httpRequest.method = request.method
        for header in finalHeaders {
            httpRequest.headers.add(name: header.name, value: header.value)
        }
        if let body = request.body {
            httpRequest.body = .bytes(ByteBuffer(bytes: body))
        }
        do {
            // The HTTP client gets no logger: at trace level it would print request heads, and
            // with them the Authorization header and the session token.
            return try await self.transport.httpClient.execute(httpRequest, timeout: timeout)
        } catch let error as AWSError {
            throw error
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            throw AWSError(
                code: AWSError.Code.networkError,
                category: .retryable,
                message: "\(self.endpoint.hostHeader): \(Self.transportReason(error))",
                service: self.service,
                operation: request.operation,
                resource: request.resource
            )
        }
    }

    /// A short, secret-free reason for a transport failure.
    static func transportReason(_ error: any Error) -> String {
        if let error = error as? HTTPClientError {
            return "\(error)"
        }
        return String(describing: type(of: error)) + ": " + String("\(error)".prefix(200))
    }

    func error(from response: HTTPClientResponse, request: AWSRequest) async throws -> AWSError {
        let status = Int(response.status.code)
        var body: [UInt8] = []
        if request.method != .HEAD {
            do {
                let buffer = try await response.body.collect(upTo: Self.maxErrorBodyBytes)
                body = Array(buffer.readableBytesView)
            } catch {
                body = []
            }
        }
        let parsed = self.parseError(status, response.headers, body)
        let requestID = response.headers.first(name: "x-amz-request-id") ?? response.headers.first(name: "x-amzn-RequestId")
            ?? parsed?.requestID
        let code = parsed?.code ?? Self.codeForStatus(status)
        return AWSError(
            code: code,
            httpStatus: status,
            category: AWSError.category(code: code, status: status),
            requestID: requestID,
            message: parsed?.message.isEmpty == false ? parsed!.message : "HTTP \(status) \(response.status.reasonPhrase)",
            service: self.service,
            operation: request.operation,
            resource: request.resource
        )
    }

    /// Reads a whole (small) success body, refusing more than `limit` bytes.
    func collect(_ response: HTTPClientResponse, limit: Int, request: AWSRequest) async throws -> [UInt8] {
        do {
            let buffer = try await response.body.collect(upTo: limit)
            return Array(buffer.readableBytesView)
        } catch let error as NIOTooManyBytesError {
            _ = error
            throw self.invalidResponse(request, "response body larger than \(limit) bytes")
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            throw AWSError(
                code: AWSError.Code.networkError,
                category: .retryable,
                message: "\(self.endpoint.hostHeader): \(Self.transportReason(error))",
                service: self.service,
                operation: request.operation,
                resource: request.resource
            )
        }
    }

    func invalidResponse(_ request: AWSRequest, _ reason: String) -> AWSError {
        AWSError(
            code: AWSError.Code.invalidResponse,
            category: .retryable,
            message: reason,
            service: self.service,
            operation: request.operation,
            resource: request.resource
        )
    }

    /// The code to report when the body carries none (HEAD responses, proxies).
    static func codeForStatus(_ status: Int) -> String {
        switch status {
        case 400: return "BadRequest"
        case 401, 403: return AWSError.Code.accessDenied
        case 404: return "NotFound"
        case 412: return AWSError.Code.preconditionFailed
        case 416: return AWSError.Code.invalidRange
        case 429: return "TooManyRequests"
        case 500: return "InternalError"
        case 503: return "ServiceUnavailable"
        default: return "HTTP\(status)"
        }
    }
}
