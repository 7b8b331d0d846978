public import Foundation
internal import Crypto

/// The outcome of header signing: the headers to send and every intermediate value, so tests
/// can compare each step and a rejected request can be diagnosed.
public struct SigV4SignedRequest: Sendable, Hashable {
    /// The request's own headers followed by the ones the signer added (`X-Amz-Date`,
    /// `X-Amz-Security-Token`, `X-Amz-Content-SHA256`, `Authorization`). Send exactly these.
    public var headers: [SigV4Header]
    /// Only the headers the signer added, in the order above.
    public var addedHeaders: [SigV4Header]
    /// The canonical request (step 1 of SigV4).
    public var canonicalRequest: String
    /// The string to sign (step 2).
    public var stringToSign: String
    /// The hex signature (step 3).
    public var signature: String
    /// The `Authorization` header value.
    public var authorization: String
}

/// The outcome of query signing (a presigned URL).
public struct SigV4PresignedRequest: Sendable, Hashable {
    /// The request's query followed by the `X-Amz-*` parameters and `X-Amz-Signature`.
    public var query: [SigV4QueryItem]
    /// `query` encoded for the URL, in that order.
    public var encodedQuery: String
    /// The canonical request.
    public var canonicalRequest: String
    /// The string to sign.
    public var stringToSign: String
    /// The hex signature.
    public var signature: String
}

/// AWS Signature Version 4 (`AWS4-HMAC-SHA256`).
///
/// A pure value: the same request, credentials and date always give the same signature. The
/// date is a parameter so that callers decide the clock (and tests freeze it).
public struct SigV4Signer: Sendable, Hashable {
    /// SHA-256 of the empty string, the payload hash of a request without a body.
    public static let emptyPayloadSHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    /// The payload hash that tells S3 the body is not signed.
    public static let unsignedPayload = "UNSIGNED-PAYLOAD"
    static let algorithm = "AWS4-HMAC-SHA256"

    /// The key that signs.
    public var credentials: SigV4Credentials
    /// The region in the credential scope, for example `us-east-1`.
    public var region: String
    /// The service in the credential scope: `s3`, `sqs`, `sts`, …
    public var service: String
    /// S3's rules or the other services'.
    public var options: SigV4Options

    /// Creates a signer.
    public init(credentials: SigV4Credentials, region: String, service: String, options: SigV4Options) {
        self.credentials = credentials
        self.region = region
        self.service = service
        self.options = options
    }

    // MARK: Header signing

    /// Signs a request with an `Authorization` header.
    ///
    /// Adds `X-Amz-Date`, the session token (signed or not, per ``SigV4Options``), and
    /// `X-Amz-Content-SHA256` when the options ask for it. Headers of the same names already in
    /// the request are replaced.
    public func signHeaders(_ request: SigV4Request, payload: SigV4Payload, date: Date) -> SigV4SignedRequest {
        let stamp = SigV4Timestamp(date)
        let payloadHash = Self.payloadHash(payload)
        var replaced: Set<String> = ["x-amz-date", "authorization"]
        var toSign: [SigV4Header] = []
        toSign.append(SigV4Header("X-Amz-Date", stamp.dateTime))
        var unsignedExtras: [SigV4Header] = []
        if let token = self.credentials.sessionToken {
            replaced.insert("x-amz-security-token")
            let header = SigV4Header("X-Amz-Security-Token", token)
            if self.options.signsSessionToken { toSign.append(header) } else { unsignedExtras.append(header) }
        }
        if self.options.addsContentSHA256Header {
            replaced.insert("x-amz-content-sha256")
            toSign.append(SigV4Header("X-Amz-Content-SHA256", payloadHash))
        }
        let kept = request.headers.filter { !replaced.contains($0.name.lowercased()) }
        let signedHeaders = kept + toSign
        let canonical = Self.canonicalHeaders(signedHeaders)
        let canonicalRequest = [
            request.method,
            self.canonicalURI(request.path),
            Self.canonicalQuery(request.query),
            canonical.block,
            canonical.names,
            payloadHash,
        ].joined(separator: "\n")
        let stringToSign = self.stringToSign(canonicalRequest: canonicalRequest, stamp: stamp)
        let signature = self.signature(stringToSign: stringToSign, stamp: stamp)
        let authorization =
            "\(Self.algorithm) Credential=\(self.credentials.accessKeyID)/\(self.scope(stamp)), "
            + "SignedHeaders=\(canonical.names), Signature=\(signature)"
        let added = toSign + unsignedExtras + [SigV4Header("Authorization", authorization)]
        return SigV4SignedRequest(
            headers: kept + added,
            addedHeaders: added,
            canonicalRequest: canonicalRequest,
            stringToSign: stringToSign,
            signature: signature,
            authorization: authorization
        )
    }

    // MARK: Query signing

    /// Signs a request in its query string (a presigned URL) valid for `expires` seconds.
    ///
    /// Every header in the request is signed, so the presigned URL must be used with exactly those
    /// headers (usually just `Host`). Pass ``SigV4Payload/unsigned`` for S3.
    public func presign(_ request: SigV4Request, payload: SigV4Payload, date: Date, expires: Int) -> SigV4PresignedRequest {
        let stamp = SigV4Timestamp(date)
        let payloadHash = Self.payloadHash(payload)
        let canonical = Self.canonicalHeaders(request.headers)
        var query = request.query.filter { !$0.name.hasPrefix("X-Amz-") }
        query.append(SigV4QueryItem("X-Amz-Algorithm", Self.algorithm))
        query.append(SigV4QueryItem("X-Amz-Credential", "\(self.credentials.accessKeyID)/\(self.scope(stamp))"))
        query.append(SigV4QueryItem("X-Amz-Date", stamp.dateTime))
        query.append(SigV4QueryItem("X-Amz-Expires", String(expires)))
        query.append(SigV4QueryItem("X-Amz-SignedHeaders", canonical.names))
        var unsignedToken: SigV4QueryItem?
        if let token = self.credentials.sessionToken {
            let item = SigV4QueryItem("X-Amz-Security-Token", token)
            if self.options.signsSessionToken { query.append(item) } else { unsignedToken = item }
        }
        let canonicalRequest = [
            request.method,
            self.canonicalURI(request.path),
            Self.canonicalQuery(query),
            canonical.block,
            canonical.names,
            payloadHash,
        ].joined(separator: "\n")
        let stringToSign = self.stringToSign(canonicalRequest: canonicalRequest, stamp: stamp)
        let signature = self.signature(stringToSign: stringToSign, stamp: stamp)
        if let unsignedToken { query.append(unsignedToken) }
        query.append(SigV4QueryItem("X-Amz-Signature", signature))
        return SigV4PresignedRequest(
            query: query,
            encodedQuery: Self.encodeQuery(query),
            canonicalRequest: canonicalRequest,
            stringToSign: stringToSign,
            signature: signature
        )
    }

    // MARK: Steps

    /// Encodes query parameters for a URL, in the given order, with the SigV4 encoding.
    public static func encodeQuery(_ query: [SigV4QueryItem]) -> String {
        query.map { "\(SigV4URIEncoding.encode($0.name))=\(SigV4URIEncoding.encode($0.value))" }
            .joined(separator: "&")
    }

    /// The lowercase hex SHA-256 of some bytes.
    public static func sha256Hex(_ bytes: some Sequence<UInt8>) -> String {
        Self.hex(SHA256.hash(data: Array(bytes)))
    }

    static func payloadHash(_ payload: SigV4Payload) -> String {
        switch payload {
        case .unsigned: return Self.unsignedPayload
        case .bytes(let bytes): return Self.sha256Hex(bytes)
        case .sha256Hex(let hex): return hex
        }
    }

    func canonicalURI(_ path: String) -> String {
        var path = path.isEmpty ? "/" : path
        if self.options.normalizesPath {
            path = Self.removeDotSegments(path)
        }
        if self.options.encodesPathTwice {
            return SigV4URIEncoding.encode(path, keepingSlash: true)
        }
        return SigV4URIEncoding.canonicalizeEncodedPath(path)
    }

    /// Removes `.` and `..` segments and empty segments, keeping a trailing slash.
    static func removeDotSegments(_ path: String) -> String {
        let segments = path.split(separator: "/", omittingEmptySubsequences: false)
        var output: [Substring] = []
        for segment in segments {
            switch segment {
            case "", ".": continue
            case "..": _ = output.popLast()
            default: output.append(segment)
            }
        }
        var result = "/" + output.joined(separator: "/")
        let last = segments.last ?? ""
        let endsAsDirectory = last.isEmpty || last == "." || last == ".."
        if endsAsDirectory && !output.isEmpty {
            result += "/"
        }
        return result
    }

    static func canonicalQuery(_ query: [SigV4QueryItem]) -> String {
        let encoded = query.map { (SigV4URIEncoding.encode($0.name), SigV4URIEncoding.encode($0.value)) }
        let sorted = encoded.sorted { lhs, rhs in
            if lhs.0 != rhs.0 { return lhs.0.utf8.lexicographicallyPrecedes(rhs.0.utf8) }
            return lhs.1.utf8.lexicographicallyPrecedes(rhs.1.utf8)
        }
        return sorted.map { "\($0.0)=\($0.1)" }.joined(separator: "&")
    }

    /// The canonical header block (each `name:value` line, newline-terminated) and the signed
    /// header list. Repeated names are joined with `,` in the order they appear.
    static func canonicalHeaders(_ headers: [SigV4Header]) -> (block: String, names: String) {
        var order: [String] = []
        var values: [String: [String]] = [:]
        for header in headers {
            let name = header.name.lowercased()
            if values[name] == nil { order.append(name) }
            values[name, default: []].append(Self.trimHeaderValue(header.value))
        }
        let names = order.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
        var block = ""
        for name in names {
            block += name + ":" + values[name]!.joined(separator: ",") + "\n"
        }
        return (block, names.joined(separator: ";"))
    }

    /// Trims the value and collapses every run of whitespace (folded lines included) to one space.
    static func trimHeaderValue(_ value: String) -> String {
        var out: [UInt8] = []
        var pendingSpace = false
        for byte in value.utf8 {
            if byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") || byte == UInt8(ascii: "\n")
                || byte == UInt8(ascii: "\r")
            {
                pendingSpace = !out.isEmpty
            } else {
                if pendingSpace { out.append(UInt8(ascii: " ")) }
                pendingSpace = false
                out.append(byte)
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    func scope(_ stamp: SigV4Timestamp) -> String {
        "\(stamp.date)/\(self.region)/\(self.service)/aws4_request"
    }

    func stringToSign(canonicalRequest: String, stamp: SigV4Timestamp) -> String {
        [
            Self.algorithm,
            stamp.dateTime,
            self.scope(stamp),
            Self.sha256Hex(Array(canonicalRequest.utf8)),
        ].joined(separator: "\n")
    }

    func signature(stringToSign: String, stamp: SigV4Timestamp) -> String {
        let secret = SymmetricKey(data: Array(("AWS4" + self.credentials.secretAccessKey).utf8))
        let dateKey = Self.hmac(key: secret, Array(stamp.date.utf8))
        let regionKey = Self.hmac(key: dateKey, Array(self.region.utf8))
        let serviceKey = Self.hmac(key: regionKey, Array(self.service.utf8))
        let signingKey = Self.hmac(key: serviceKey, Array("aws4_request".utf8))
        let mac = HMAC<SHA256>.authenticationCode(for: Array(stringToSign.utf8), using: signingKey)
        return Self.hex(mac)
    }

    private static func hmac(key: SymmetricKey, _ data: [UInt8]) -> SymmetricKey {
        SymmetricKey(data: Array(HMAC<SHA256>.authenticationCode(for: data, using: key)))
    }

    private static func hex(_ bytes: some Sequence<UInt8>) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}

/// A UTC instant formatted the two ways SigV4 needs: `YYYYMMDD` and `YYYYMMDD'T'HHMMSS'Z'`.
public struct SigV4Timestamp: Sendable, Hashable {
    /// `YYYYMMDD`, the credential-scope date.
    public let date: String
    /// `YYYYMMDDTHHMMSSZ`, the `X-Amz-Date` value.
    public let dateTime: String

    /// Formats a date in UTC (fractions of a second are dropped). Dates outside the years
    /// 0001–9999 are clamped to that range.
    public init(_ instant: Date) {
        let raw = instant.timeIntervalSince1970
        let clamped = raw.isFinite ? min(max(raw, -62_135_596_800), 253_402_300_799) : 0
        let seconds = Int64(clamped.rounded(.down))
        var days = seconds / 86_400
        var secondOfDay = seconds % 86_400
        if secondOfDay < 0 {
            secondOfDay += 86_400
            days -= 1
        }
        let (year, month, day) = Self.civilDate(daysSinceEpoch: days)
        let hour = secondOfDay / 3600
        let minute = (secondOfDay % 3600) / 60
        let second = secondOfDay % 60
        self.date = Self.pad(year, 4) + Self.pad(month, 2) + Self.pad(day, 2)
        self.dateTime = self.date + "T" + Self.pad(hour, 2) + Self.pad(minute, 2) + Self.pad(second, 2) + "Z"
    }

    /// Gregorian date from days since 1970-01-01 (Howard Hinnant's days-to-civil algorithm).
    static func civilDate(daysSinceEpoch: Int64) -> (Int64, Int64, Int64) {
        let z = daysSinceEpoch + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let mp = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
        return (year, month, day)
    }

    private static func pad(_ value: Int64, _ width: Int) -> String {
        let digits = String(value)
        return digits.count >= width ? digits : String(repeating: "0", count: width - digits.count) + digits
    }
}
