/// An AWS call that failed, classified for the caller's retry policy.
///
/// `code` is AWS's own error code (`NoSuchKey`, `AccessDenied`, `SlowDown`, …) when the service
/// sent one, or one of ours (``Code``) for failures before or around the call. `description`
/// names the operation, the resource, the code, the HTTP status and the request id; it never
/// contains credentials, signatures or request headers.
public struct AWSError: Error, Sendable, Hashable, CustomStringConvertible, CustomDebugStringConvertible {
    /// How the caller should react.
    public struct Category: Sendable, Hashable, CustomStringConvertible {
        let name: String
        /// A transient failure (5xx, transport error, timeout): try again later. Sluice's E004.
        public static let retryable = Category(name: "retryable")
        /// The service asked us to slow down (`SlowDown`, `Throttling…`, HTTP 429): retry with
        /// backoff. Also E004.
        public static let throttled = Category(name: "throttled")
        /// Retrying will not help (missing object, access denied, invalid request,
        /// precondition failed, object too large, bad configuration).
        public static let permanent = Category(name: "permanent")

        public var description: String { self.name }
    }

    /// Error codes this library produces itself, and well-known AWS codes callers test for.
    public enum Code {
        /// The connection failed, timed out or was reset before a complete response arrived.
        public static let networkError = "NetworkError"
        /// The response could not be understood (malformed XML or JSON, missing fields, a body
        /// shorter than announced).
        public static let invalidResponse = "InvalidResponse"
        /// The object is larger than `s3.max_object_bytes`; nothing was downloaded.
        public static let objectTooLarge = "ObjectTooLarge"
        /// The bucket name is not a valid DNS-style S3 bucket name.
        public static let invalidBucketName = "InvalidBucketName"
        /// The object key is empty, too long, or has `.`/`..` segments that could change the path.
        public static let invalidObjectKey = "InvalidObjectKey"
        /// An argument is out of range (negative offset, zero or oversized batch, …).
        public static let invalidArgument = "InvalidArgument"
        /// A configuration key has an unusable value.
        public static let invalidConfiguration = "InvalidConfiguration"
        /// No credential source in the chain had credentials.
        public static let credentialsNotFound = "CredentialsNotFound"
        /// A credential source was configured but could not produce credentials.
        public static let credentialsUnavailable = "CredentialsUnavailable"
        /// S3: the object does not exist.
        public static let noSuchKey = "NoSuchKey"
        /// S3: the bucket does not exist.
        public static let noSuchBucket = "NoSuchBucket"
        /// S3: the version id does not exist.
        public static let noSuchVersion = "NoSuchVersion"
        /// Access denied by policy or credentials.
        public static let accessDenied = "AccessDenied"
        /// S3: `If-Match` did not match: the object was replaced since it was pinned.
        public static let preconditionFailed = "PreconditionFailed"
        /// S3: the requested range starts past the end of the object.
        public static let invalidRange = "InvalidRange"
    }

    /// AWS's error code, or one of ``Code``.
    public var code: String
    /// The HTTP status, when a response arrived.
    public var httpStatus: Int?
    /// What to do about it.
    public var category: Category
    /// AWS's request id (`x-amz-request-id` / `x-amzn-RequestId`), for support cases.
    public var requestID: String?
    /// A human-readable explanation (AWS's message when there is one).
    public var message: String
    /// `s3`, `sqs`, `sts` or `credentials`.
    public var service: String
    /// The API operation, for example `GetObject`.
    public var operation: String
    /// What was being accessed, for example `s3://bucket/key` or a queue URL.
    public var resource: String?

    /// Creates an error.
    public init(
        code: String,
        httpStatus: Int? = nil,
        category: Category,
        requestID: String? = nil,
        message: String,
        service: String,
        operation: String,
        resource: String? = nil
    ) {
        self.code = code
        self.httpStatus = httpStatus
        self.category = category
        self.requestID = requestID
        self.message = String(message.prefix(1024))
        self.service = service
        self.operation = operation
        self.resource = resource
    }

    /// Whether retrying later may succeed (retryable or throttled).
    public var isRetryable: Bool { self.category != .permanent }

    /// Sluice's error code: `E004` (network error, retried) for retryable and throttled
    /// failures; nil for permanent ones, which the caller maps by `code` (missing object,
    /// access denied, …).
    public var sluiceCode: String? { self.isRetryable ? "E004" : nil }

    /// The object, bucket or version does not exist.
    public var isNotFound: Bool {
        [Code.noSuchKey, Code.noSuchBucket, Code.noSuchVersion, "NotFound"].contains(self.code)
    }

    /// The credentials were refused or lack permission.
    public var isAccessDenied: Bool {
        [Code.accessDenied, "AccessDeniedException", "InvalidAccessKeyId", "SignatureDoesNotMatch", "Forbidden",
            "InvalidClientTokenId", "UnrecognizedClientException", "IncompleteSignature", "InvalidSignatureException"]
            .contains(self.code)
    }

    public var description: String {
        var text = "\(self.service) \(self.operation)"
        if let resource { text += " \(resource)" }
        text += " failed: \(self.code)"
        if let httpStatus { text += " (HTTP \(httpStatus))" }
        text += " [\(self.category)]: \(self.message)"
        if let requestID { text += " (request id \(requestID))" }
        return text
    }

    public var debugDescription: String { "AWSError(\(self.description))" }
}

extension AWSError {
    static let throttlingCodes: Set<String> = [
        "SlowDown", "Throttling", "ThrottlingException", "ThrottledException", "RequestThrottled",
        "RequestThrottledException", "TooManyRequestsException", "ProvisionedThroughputExceededException",
        "TransactionInProgressException", "RequestLimitExceeded", "BandwidthLimitExceeded",
        "LimitExceededException", "PriorRequestNotComplete", "EC2ThrottledException",
        "KMSThrottlingException",
    ]

    static let transientCodes: Set<String> = [
        "RequestTimeout", "RequestTimeoutException", "InternalError", "InternalFailure", "InternalServerError",
        "ServiceUnavailable", "ServiceUnavailableException", "ServiceFailure", "IDPCommunicationError",
        "RequestTimeTooSkewed", "RequestExpired", "ExpiredToken", "ExpiredTokenException", "TokenRefreshRequired",
    ]

    /// The category AWS's guidance gives a code and status.
    static func category(code: String, status: Int?) -> Category {
        if self.throttlingCodes.contains(code) || status == 429 { return .throttled }
        if self.transientCodes.contains(code) { return .retryable }
        if let status, status >= 500 { return .retryable }
        return .permanent
    }

    /// Codes that mean the signing clock is off: re-sign with the server's time once.
    static let clockSkewCodes: Set<String> = [
        "RequestTimeTooSkewed", "RequestExpired", "InvalidSignatureException", "SignatureDoesNotMatch",
        "AuthFailure", "RequestInTheFuture",
    ]

    /// Codes that mean the session token expired: refresh the credentials once.
    static let expiredTokenCodes: Set<String> = [
        "ExpiredToken", "ExpiredTokenException", "TokenRefreshRequired", "RequestExpired",
    ]
}
