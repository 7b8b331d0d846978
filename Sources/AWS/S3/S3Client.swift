import AsyncHTTPClient
import AWSSigV4
public import Foundation
public import Logging
public import NIOCore
import NIOHTTP1

/// Reads from S3 (and S3-compatible stores): HeadObject, ranged and streaming GetObject,
/// ListObjectsV2.
///
/// Requests are signed with `UNSIGNED-PAYLOAD` for bodiless reads over https and a signed empty
/// payload hash otherwise. Bucket names are validated and keys percent-encoded so neither can
/// change the host or the path structure of a request.
public struct S3Client: Sendable {
    /// The settings in use.
    public let configuration: S3Configuration
    let transport: AWSHTTPTransport
    let credentials: any CredentialProvider
    let now: @Sendable () -> Date
    let skew = ClockSkew()

    /// Creates a client.
    public init(
        configuration: S3Configuration,
        credentials: any CredentialProvider,
        transport: AWSHTTPTransport,
        now: @escaping @Sendable () -> Date = { Date() }
    ) {
        self.configuration = configuration
        self.credentials = credentials
        self.transport = transport
        self.now = now
    }

    static let smallTimeout = TimeAmount.seconds(60)
    /// The whole-request limit of a streaming GET; the read timeout still bounds every pause.
    static let streamTimeout = TimeAmount.hours(6)

    // MARK: Operations

    /// HeadObject: size, ETag, version id and last-modified. With a pin, the current object
    /// must match it (`PreconditionFailed` otherwise).
    public func headObject(bucket: String, key: String, pin: S3ObjectPin = .none, logger: Logger) async throws -> S3ObjectInfo {
        var request = try self.request(.HEAD, bucket: bucket, key: key, operation: "HeadObject")
        self.apply(pin, to: &request)
        let (requester, _) = try self.requester(bucket: bucket)
        let response = try await requester.send(request, timeout: Self.smallTimeout, logger: logger)
        return try self.info(from: response.headers, bucket: bucket, key: key, request: request, requester: requester)
    }

    /// Ranged GetObject: exactly `length` bytes from `offset`, or an error. Throws
    /// `InvalidRange` when the range runs past the end of the object.
    public func getObjectRange(
        bucket: String,
        key: String,
        offset: Int64,
        length: Int,
        pin: S3ObjectPin = .none,
        logger: Logger
    ) async throws -> [UInt8] {
        guard offset >= 0, length >= 0, Int64(length) <= self.configuration.maxObjectBytes,
            offset <= Int64.max - Int64(length)
        else {
            throw AWSError(
                code: AWSError.Code.invalidArgument,
                category: .permanent,
                message: "range offset \(offset) length \(length) is invalid (limit s3.max_object_bytes = \(self.configuration.maxObjectBytes))",
                service: "s3",
                operation: "GetObject",
                resource: Self.resource(bucket, key)
            )
        }
        if length == 0 { return [] }
        var request = try self.request(.GET, bucket: bucket, key: key, operation: "GetObject")
        let last = offset + Int64(length) - 1
        request.headers.append(SigV4Header("Range", "bytes=\(offset)-\(last)"))
        self.apply(pin, to: &request)
        let (requester, _) = try self.requester(bucket: bucket)
        let response = try await requester.send(request, timeout: Self.smallTimeout, logger: logger)
        let status = Int(response.status.code)
        if status == 206 {
            guard let range = response.headers.first(name: "content-range").flatMap(Self.parseContentRange) else {
                throw requester.invalidResponse(request, "206 response without a usable Content-Range")
            }
            guard range.start == offset else {
                throw requester.invalidResponse(request, "asked for bytes from \(offset), got \(range.start)")
            }
            if range.end != last {
                throw AWSError(
                    code: AWSError.Code.invalidRange,
                    httpStatus: status,
                    category: .permanent,
                    message: "bytes \(offset)-\(last) requested but the object has \(range.total.map(String.init) ?? "fewer") bytes",
                    service: "s3",
                    operation: "GetObject",
                    resource: request.resource
                )
            }
        } else if status == 200 {
            // A store that ignores Range sends the whole object: acceptable only if that is
            // exactly the range asked for.
            let size = response.headers.first(name: "content-length").flatMap { Int64($0) }
            guard offset == 0, size == Int64(length) else {
                throw requester.invalidResponse(request, "the server ignored the Range header")
            }
        }
        let bytes = try await requester.collect(response, limit: length, request: request)
        guard bytes.count == length else {
            throw AWSError(
                code: AWSError.Code.networkError,
                category: .retryable,
                message: "short read: \(bytes.count) of \(length) bytes at offset \(offset)",
                service: "s3",
                operation: "GetObject",
                resource: request.resource
            )
        }
        return bytes
    }

    /// Streaming GetObject of the whole object. The size is checked against
    /// `s3.max_object_bytes` from the response headers before any body byte is read; the body
    /// arrives with back-pressure, so memory stays bounded whatever the object's size.
    public func getObject(bucket: String, key: String, pin: S3ObjectPin = .none, logger: Logger) async throws -> S3ObjectStream {
        var request = try self.request(.GET, bucket: bucket, key: key, operation: "GetObject")
        self.apply(pin, to: &request)
        let (requester, _) = try self.requester(bucket: bucket)
        let response = try await requester.send(request, timeout: Self.streamTimeout, logger: logger)
        let info = try self.info(from: response.headers, bucket: bucket, key: key, request: request, requester: requester)
        return S3ObjectStream(
            info: info,
            body: S3ObjectBody(body: response.body, expectedBytes: info.size, resource: request.resource ?? "")
        )
    }

    /// A reader of byte ranges pinned to the object's current version and ETag (from a
    /// HeadObject, or `pin` when the event named one). Refuses objects over
    /// `s3.max_object_bytes` before reading anything.
    public func rangeReader(bucket: String, key: String, pin: S3ObjectPin = .none, logger: Logger) async throws -> S3RangeReader {
        let info = try await self.headObject(bucket: bucket, key: key, pin: pin, logger: logger)
        let pinned = S3ObjectPin(versionID: pin.versionID ?? info.versionID, eTag: pin.eTag ?? info.eTag)
        return S3RangeReader(client: self, info: info, pin: pinned, logger: logger)
    }

    /// ListObjectsV2, one page. Keys are requested URL-encoded and decoded here, so any key
    /// survives the XML.
    public func listObjectsV2(
        bucket: String,
        prefix: String? = nil,
        startAfter: String? = nil,
        continuationToken: String? = nil,
        delimiter: String? = nil,
        maxKeys: Int? = nil,
        logger: Logger
    ) async throws -> S3ListPage {
        var request = try self.request(.GET, bucket: bucket, key: nil, operation: "ListObjectsV2")
        request.query = [SigV4QueryItem("list-type", "2"), SigV4QueryItem("encoding-type", "url")]
        if let prefix { request.query.append(SigV4QueryItem("prefix", prefix)) }
        if let startAfter { request.query.append(SigV4QueryItem("start-after", startAfter)) }
        if let continuationToken { request.query.append(SigV4QueryItem("continuation-token", continuationToken)) }
        if let delimiter { request.query.append(SigV4QueryItem("delimiter", delimiter)) }
        if let maxKeys {
            guard (1...1000).contains(maxKeys) else {
                throw AWSError(
                    code: AWSError.Code.invalidArgument, category: .permanent, message: "maxKeys must be 1...1000",
                    service: "s3", operation: "ListObjectsV2", resource: request.resource
                )
            }
            request.query.append(SigV4QueryItem("max-keys", String(maxKeys)))
        }
        let (requester, _) = try self.requester(bucket: bucket)
        let response = try await requester.send(request, timeout: Self.smallTimeout, logger: logger)
        let bytes = try await requester.collect(response, limit: 32 * 1024 * 1024, request: request)
        let root: XMLElement
        do {
            root = try XMLReader.parse(bytes)
        } catch {
            throw requester.invalidResponse(request, "\(error)")
        }
        let urlEncoded = root.string("EncodingType") == "url"
        func decode(_ text: String) throws -> String {
            guard urlEncoded else { return text }
            guard let decoded = SigV4URIEncoding.decode(text.replacingOccurrences(of: "+", with: " ")) else {
                throw requester.invalidResponse(request, "a listed key is not valid URL encoding")
            }
            return decoded
        }
        var objects: [S3ListedObject] = []
        for element in root.children("Contents") {
            guard let key = element.string("Key"), let size = element.string("Size").flatMap({ Int64($0) }) else {
                throw requester.invalidResponse(request, "a Contents element lacks Key or Size")
            }
            objects.append(
                S3ListedObject(
                    key: try decode(key),
                    size: size,
                    eTag: element.string("ETag"),
                    lastModified: element.string("LastModified").flatMap(AWSDate.parseISO8601),
                    storageClass: element.string("StorageClass")
                )
            )
        }
        let prefixes = try root.children("CommonPrefixes").compactMap { try $0.string("Prefix").map(decode) }
        let truncated = root.string("IsTruncated") == "true"
        let token = root.string("NextContinuationToken")
        if truncated && token == nil {
            throw requester.invalidResponse(request, "a truncated listing without NextContinuationToken")
        }
        return S3ListPage(objects: objects, commonPrefixes: prefixes, isTruncated: truncated, nextContinuationToken: token)
    }

    // MARK: Writes used to set up tests and by tools

    /// PutObject of a small body held in memory (signed payload).
    package func putObject(bucket: String, key: String, body: [UInt8], logger: Logger) async throws -> S3ObjectInfo {
        var request = try self.request(.PUT, bucket: bucket, key: key, operation: "PutObject")
        request.body = body
        request.payload = .bytes(body)
        let (requester, _) = try self.requester(bucket: bucket)
        let response = try await requester.send(request, timeout: Self.smallTimeout, logger: logger)
        return S3ObjectInfo(
            bucket: bucket,
            key: key,
            size: Int64(body.count),
            eTag: response.headers.first(name: "etag") ?? "",
            versionID: response.headers.first(name: "x-amz-version-id").flatMap { $0 == "null" ? nil : $0 },
            lastModified: nil,
            contentType: nil
        )
    }

    /// CreateBucket (in the client's region).
    package func createBucket(_ bucket: String, logger: Logger) async throws {
        var request = try self.request(.PUT, bucket: bucket, key: nil, operation: "CreateBucket")
        if self.configuration.region != "us-east-1" {
            let body = Array(
                "<CreateBucketConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><LocationConstraint>\(self.configuration.region)</LocationConstraint></CreateBucketConfiguration>"
                    .utf8
            )
            request.body = body
            request.payload = .bytes(body)
        } else {
            request.body = []
            request.payload = .empty
        }
        let (requester, _) = try self.requester(bucket: bucket)
        _ = try await requester.send(request, timeout: Self.smallTimeout, logger: logger)
    }

    /// PutBucketVersioning `Enabled`.
    package func enableVersioning(_ bucket: String, logger: Logger) async throws {
        var request = try self.request(.PUT, bucket: bucket, key: nil, operation: "PutBucketVersioning")
        request.query = [SigV4QueryItem("versioning", "")]
        let body = Array("<VersioningConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Status>Enabled</Status></VersioningConfiguration>".utf8)
        request.body = body
        request.payload = .bytes(body)
        let (requester, _) = try self.requester(bucket: bucket)
        _ = try await requester.send(request, timeout: Self.smallTimeout, logger: logger)
    }

    // MARK: Addressing

    /// The endpoint and path of a bucket (and key): virtual-hosted (`bucket.host/key`) or
    /// path-style (`host/bucket/key`). Throws for invalid bucket names and keys.
    package func address(bucket: String, key: String?) throws -> (endpoint: AWSEndpoint, path: String) {
        guard S3Names.isValidBucketName(bucket) else {
            throw AWSError(
                code: AWSError.Code.invalidBucketName,
                category: .permanent,
                message: "\"\(bucket.prefix(80))\" is not a valid S3 bucket name",
                service: "s3",
                operation: "address"
            )
        }
        if let key, let problem = S3Names.keyProblem(key) {
            throw AWSError(
                code: AWSError.Code.invalidObjectKey,
                category: .permanent,
                message: problem,
                service: "s3",
                operation: "address",
                resource: Self.resource(bucket, key)
            )
        }
        let base = self.configuration.endpoint
            ?? AWSEndpoint(scheme: "https", host: "s3.\(self.configuration.region).amazonaws.com")
        let pathStyle = self.configuration.pathStyle || base.isIPOrLocalhost
            || (bucket.contains(".") && base.scheme == "https")
        let encodedKey = key.map { "/" + SigV4URIEncoding.encodePath($0) } ?? ""
        if pathStyle {
            return (base, base.basePath + "/" + bucket + encodedKey)
        }
        var endpoint = base
        endpoint.host = bucket + "." + base.host
        return (endpoint, base.basePath + (encodedKey.isEmpty ? "/" : encodedKey))
    }

    static func resource(_ bucket: String, _ key: String?) -> String {
        "s3://\(bucket)/\(key ?? "")"
    }

    private func request(_ method: HTTPMethod, bucket: String, key: String?, operation: String) throws -> AWSRequest {
        let (_, path) = try self.address(bucket: bucket, key: key)
        return AWSRequest(
            method: method,
            path: path,
            payload: .empty,
            operation: operation,
            resource: Self.resource(bucket, key)
        )
    }

    private func requester(bucket: String) throws -> (AWSRequester, AWSEndpoint) {
        let (endpoint, _) = try self.address(bucket: bucket, key: nil)
        let requester = AWSRequester(
            transport: self.transport,
            endpoint: endpoint,
            service: "s3",
            region: self.configuration.region,
            options: .s3,
            credentials: self.credentials,
            now: self.now,
            skew: self.skew,
            parseError: S3Client.parseError
        )
        return (requester, endpoint)
    }

    private func apply(_ pin: S3ObjectPin, to request: inout AWSRequest) {
        if let versionID = pin.versionID, !versionID.isEmpty {
            request.query.append(SigV4QueryItem("versionId", versionID))
        }
        if let ifMatch = pin.ifMatchValue {
            request.headers.append(SigV4Header("If-Match", ifMatch))
        }
    }

    private func info(from headers: HTTPHeaders, bucket: String, key: String, request: AWSRequest, requester: AWSRequester) throws -> S3ObjectInfo {
        var size: Int64
        if let range = headers.first(name: "content-range").flatMap(Self.parseContentRange), let total = range.total {
            size = total
        } else if let length = headers.first(name: "content-length").flatMap({ Int64($0) }), length >= 0 {
            size = length
        } else {
            throw requester.invalidResponse(request, "the response has no Content-Length")
        }
        if size > self.configuration.maxObjectBytes {
            throw AWSError(
                code: AWSError.Code.objectTooLarge,
                category: .permanent,
                message: "the object has \(size) bytes, more than s3.max_object_bytes = \(self.configuration.maxObjectBytes)",
                service: "s3",
                operation: request.operation,
                resource: request.resource
            )
        }
        let version = headers.first(name: "x-amz-version-id")
        size = max(0, size)
        return S3ObjectInfo(
            bucket: bucket,
            key: key,
            size: size,
            eTag: headers.first(name: "etag") ?? "",
            versionID: version == "null" ? nil : version,
            lastModified: headers.first(name: "last-modified").flatMap(AWSDate.parseHTTPDate),
            contentType: headers.first(name: "content-type")
        )
    }

    /// `bytes start-end/total` (total may be `*`).
    static func parseContentRange(_ value: String) -> (start: Int64, end: Int64, total: Int64?)? {
        guard value.hasPrefix("bytes ") else { return nil }
        let spec = value.dropFirst(6)
        let parts = spec.split(separator: "/", maxSplits: 1)
        guard parts.count == 2 else { return nil }
        let bounds = parts[0].split(separator: "-", maxSplits: 1)
        guard bounds.count == 2, let start = Int64(bounds[0]), let end = Int64(bounds[1]), start <= end else { return nil }
        let total = parts[1] == "*" ? nil : Int64(parts[1])
        if parts[1] != "*" && total == nil { return nil }
        return (start, end, total)
    }

    @Sendable
    static func parseError(status: Int, headers: HTTPHeaders, body: [UInt8]) -> ParsedServiceError? {
        if let parsed = XMLErrorParser.parse(status: status, headers: headers, body: body) { return parsed }
        // HEAD responses carry no body.
        switch status {
        case 404: return ParsedServiceError(code: AWSError.Code.noSuchKey, message: "the object does not exist")
        case 403: return ParsedServiceError(code: AWSError.Code.accessDenied, message: "access denied")
        case 412: return ParsedServiceError(code: AWSError.Code.preconditionFailed, message: "the object no longer matches the pinned ETag")
        case 503: return ParsedServiceError(code: "SlowDown", message: "service unavailable")
        default: return nil
        }
    }
}

/// A streaming GetObject: the object's information and its body.
public struct S3ObjectStream: Sendable {
    /// Size, ETag, version id and last-modified from the response headers.
    public let info: S3ObjectInfo
    /// The body, as it arrives.
    public let body: S3ObjectBody
}

/// The body of a streaming GetObject: an `AsyncSequence` of `ByteBuffer`s delivered with
/// back-pressure. Fails with `NetworkError` (retryable) if the connection breaks or the body is
/// longer or shorter than announced. Iterate it once.
public struct S3ObjectBody: AsyncSequence, Sendable {
    /// Chunks of the object, in order.
    public typealias Element = ByteBuffer

    let body: HTTPClientResponse.Body
    let expectedBytes: Int64
    let resource: String

    /// The iterator.
    public struct AsyncIterator: AsyncIteratorProtocol {
        var base: HTTPClientResponse.Body.AsyncIterator
        let expectedBytes: Int64
        let resource: String
        var received: Int64 = 0

        /// The next chunk, or nil at the end of a complete body.
        public mutating func next() async throws -> ByteBuffer? {
            let chunk: ByteBuffer?
            do {
                chunk = try await self.base.next()
            } catch is CancellationError {
                throw CancellationError()
            } catch {
                throw self.failure("connection failed after \(self.received) bytes: \(AWSRequester.transportReason(error))")
            }
            guard let chunk else {
                guard self.received == self.expectedBytes else {
                    throw self.failure("body ended after \(self.received) of \(self.expectedBytes) bytes")
                }
                return nil
            }
            self.received += Int64(chunk.readableBytes)
            guard self.received <= self.expectedBytes else {
                throw self.failure("body longer than the announced \(self.expectedBytes) bytes")
            }
            return chunk
        }

        private func failure(_ message: String) -> AWSError {
            AWSError(
                code: AWSError.Code.networkError,
                category: .retryable,
                message: message,
                service: "s3",
                operation: "GetObject",
                resource: self.resource
            )
        }
    }

    public func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(base: self.body.makeAsyncIterator(), expectedBytes: self.expectedBytes, resource: self.resource)
    }
}

/// Byte-range reads of one pinned object, the shape a Parquet byte source wraps.
public struct S3RangeReader: Sendable {
    let client: S3Client
    /// The object as HeadObject described it when the reader was made.
    public let info: S3ObjectInfo
    /// The version id and/or ETag every read is pinned to.
    public let pin: S3ObjectPin
    let logger: Logger

    /// The object's size in bytes.
    public var size: Int64 { self.info.size }

    /// Reads exactly `length` bytes at `offset`. A replaced object fails with
    /// `PreconditionFailed` (or reads the pinned version); a range past the end fails with
    /// `InvalidRange`.
    public func read(offset: Int64, length: Int) async throws -> [UInt8] {
        guard offset >= 0, length >= 0, offset <= self.size, Int64(length) <= self.size - offset else {
            throw AWSError(
                code: AWSError.Code.invalidRange,
                category: .permanent,
                message: "bytes \(offset)+\(length) lie outside the object's \(self.size) bytes",
                service: "s3",
                operation: "GetObject",
                resource: S3Client.resource(self.info.bucket, self.info.key)
            )
        }
        return try await self.client.getObjectRange(
            bucket: self.info.bucket,
            key: self.info.key,
            offset: offset,
            length: length,
            pin: self.pin,
            logger: self.logger
        )
    }
}
