/// One HTTP header as it will be sent. Names are case-insensitive; a name may repeat.
public struct SigV4Header: Sendable, Hashable {
    /// The header name as sent (any case).
    public var name: String
    /// The header value as sent. Leading and trailing whitespace and runs of inner whitespace
    /// are collapsed only in the canonical form, never in what is sent.
    public var value: String

    /// Creates a header.
    public init(_ name: String, _ value: String) {
        self.name = name
        self.value = value
    }
}

/// One query parameter, unencoded. The signer encodes it with the SigV4 rules (RFC 3986
/// unreserved characters kept, everything else `%XX`, a space as `%20`, never `+`).
public struct SigV4QueryItem: Sendable, Hashable {
    /// The parameter name, unencoded.
    public var name: String
    /// The parameter value, unencoded; an empty string for a bare `?name` parameter.
    public var value: String

    /// Creates a query parameter.
    public init(_ name: String, _ value: String) {
        self.name = name
        self.value = value
    }
}

/// The parts of an HTTP request that SigV4 signs.
public struct SigV4Request: Sendable, Hashable {
    /// The HTTP method, upper case (`GET`, `HEAD`, `PUT`, `POST`, …).
    public var method: String
    /// The path exactly as it goes on the wire: already percent-encoded, starting with `/`.
    /// An empty path is treated as `/`. Bytes that are neither unreserved nor `/` nor a valid
    /// `%XX` escape are encoded when the canonical request is built.
    public var path: String
    /// The query parameters, unencoded and in any order.
    public var query: [SigV4QueryItem]
    /// The headers to sign, including `Host` (with the port when it is not the scheme's default).
    public var headers: [SigV4Header]

    /// Creates a request description.
    public init(method: String, path: String, query: [SigV4QueryItem] = [], headers: [SigV4Header]) {
        self.method = method
        self.path = path
        self.query = query
        self.headers = headers
    }
}

/// What the signature says about the request body.
public enum SigV4Payload: Sendable, Hashable {
    /// `UNSIGNED-PAYLOAD`: the body is not covered (S3 over TLS, presigned URLs).
    case unsigned
    /// The body is these bytes; their SHA-256 is signed.
    case bytes([UInt8])
    /// The lowercase hex SHA-256 of the body, already computed by the caller.
    case sha256Hex(String)

    /// An empty body, signed.
    public static let empty = SigV4Payload.sha256Hex(SigV4Signer.emptyPayloadSHA256)
}

/// The rules that differ between S3 and the other AWS services.
public struct SigV4Options: Sendable, Hashable {
    /// Remove `.` and `..` segments and collapse repeated slashes in the canonical path.
    /// S3 forbids this: `a//b` and `a/./b` are distinct keys.
    public var normalizesPath: Bool
    /// Percent-encode the wire path a second time for the canonical request (`%20` becomes
    /// `%2520`). S3 encodes it once.
    public var encodesPathTwice: Bool
    /// Sign the session token (`X-Amz-Security-Token`). When false the token is still sent, but
    /// added after signing, as some services require.
    public var signsSessionToken: Bool
    /// Send and sign an `x-amz-content-sha256` header carrying the payload hash (header signing
    /// only). S3 requires it.
    public var addsContentSHA256Header: Bool

    /// Creates options field by field.
    public init(normalizesPath: Bool, encodesPathTwice: Bool, signsSessionToken: Bool, addsContentSHA256Header: Bool) {
        self.normalizesPath = normalizesPath
        self.encodesPathTwice = encodesPathTwice
        self.signsSessionToken = signsSessionToken
        self.addsContentSHA256Header = addsContentSHA256Header
    }

    /// S3: no path normalisation, single encoding, signed token, `x-amz-content-sha256` sent.
    public static let s3 = SigV4Options(
        normalizesPath: false,
        encodesPathTwice: false,
        signsSessionToken: true,
        addsContentSHA256Header: true
    )

    /// Every other service (SQS, STS, …): normalised path, double encoding, signed token.
    public static let standard = SigV4Options(
        normalizesPath: true,
        encodesPathTwice: true,
        signsSessionToken: true,
        addsContentSHA256Header: false
    )
}
