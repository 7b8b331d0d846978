/// Configuration of the AWS clients, read from flat `section.key` values (the service's
/// configuration file) with the standard AWS environment variables as fallbacks.
///
/// Keys:
/// - `aws.region`: the default region. Fallbacks: `AWS_REGION`, `AWS_DEFAULT_REGION`, the
///   `region` of the active profile in the shared config file, then `us-east-1`.
/// - `aws.connect_timeout_seconds` (default 10) and `aws.read_timeout_seconds` (default 60):
///   per-connection limits of the HTTP client.
/// - `s3.region`: S3's region (default: `aws.region`).
/// - `s3.endpoint`: an S3-compatible endpoint URL, `https://…` or `http://…` for a local
///   emulator. Fallbacks: `AWS_ENDPOINT_URL_S3`, `AWS_ENDPOINT_URL`, then
///   `https://s3.<region>.amazonaws.com`.
/// - `s3.path_style`: `true` to address buckets as `/<bucket>/<key>` instead of
///   `<bucket>.<host>` (default `false`; path style is used anyway for IP or `localhost`
///   endpoints, and for bucket names with dots over https).
/// - `s3.max_object_bytes`: objects larger than this are refused before any byte is
///   downloaded (default 5 GiB).
/// - `sqs.region`, `sqs.endpoint` (fallbacks `AWS_ENDPOINT_URL_SQS`, `AWS_ENDPOINT_URL`).
/// - `sts.region`, `sts.endpoint` (fallbacks `AWS_ENDPOINT_URL_STS`, `AWS_ENDPOINT_URL`).
///
/// No key here is secret; credentials come from the ``CredentialProvider`` chain.
public struct AWSConfiguration: Sendable, Hashable {
    /// The default region.
    public var region: String
    /// S3 settings.
    public var s3: S3Configuration
    /// SQS settings.
    public var sqs: ServiceConfiguration
    /// STS settings.
    public var sts: ServiceConfiguration
    /// HTTP client settings.
    public var http: AWSHTTPConfiguration

    /// Creates a configuration from its parts.
    public init(region: String, s3: S3Configuration, sqs: ServiceConfiguration, sts: ServiceConfiguration, http: AWSHTTPConfiguration) {
        self.region = region
        self.s3 = s3
        self.sqs = sqs
        self.sts = sts
        self.http = http
    }

    /// Reads the documented keys from `values`, falling back to the environment.
    /// Throws ``AWSError`` (`InvalidConfiguration`) naming the first bad key.
    public init(values: [String: String] = [:], environment: AWSEnvironment) throws {
        func value(_ key: String) -> String? {
            guard let text = values[key]?.trimmingWhitespace, !text.isEmpty else { return nil }
            return text
        }
        let profileRegion = (try? SharedConfig.region(environment: environment)).flatMap { $0 }
        let region = value("aws.region") ?? environment["AWS_REGION"] ?? environment["AWS_DEFAULT_REGION"]
            ?? profileRegion ?? "us-east-1"
        try Self.checkRegion(region, key: "aws.region")
        let s3Region = value("s3.region") ?? region
        try Self.checkRegion(s3Region, key: "s3.region")
        let sqsRegion = value("sqs.region") ?? region
        try Self.checkRegion(sqsRegion, key: "sqs.region")
        let stsRegion = value("sts.region") ?? region
        try Self.checkRegion(stsRegion, key: "sts.region")

        func endpoint(_ key: String, _ variable: String) throws -> AWSEndpoint? {
            guard let text = value(key) ?? environment[variable] ?? environment["AWS_ENDPOINT_URL"] else { return nil }
            do {
                return try AWSEndpoint(url: text)
            } catch var error as AWSError {
                error.message = "\(key): \(error.message)"
                throw error
            }
        }
        var s3 = S3Configuration(region: s3Region, endpoint: try endpoint("s3.endpoint", "AWS_ENDPOINT_URL_S3"))
        if let text = value("s3.path_style") {
            guard let flag = Bool(text.lowercased()) else { throw Self.invalid("s3.path_style", "expected true or false") }
            s3.pathStyle = flag
        }
        if let text = value("s3.max_object_bytes") {
            guard let limit = Int64(text), limit > 0 else { throw Self.invalid("s3.max_object_bytes", "expected a positive byte count") }
            s3.maxObjectBytes = limit
        }
        var http = AWSHTTPConfiguration()
        if let text = value("aws.connect_timeout_seconds") {
            guard let seconds = Int(text), (1...600).contains(seconds) else {
                throw Self.invalid("aws.connect_timeout_seconds", "expected 1...600")
            }
            http.connectTimeoutSeconds = seconds
        }
        if let text = value("aws.read_timeout_seconds") {
            guard let seconds = Int(text), (1...3600).contains(seconds) else {
                throw Self.invalid("aws.read_timeout_seconds", "expected 1...3600")
            }
            http.readTimeoutSeconds = seconds
        }
        self.init(
            region: region,
            s3: s3,
            sqs: ServiceConfiguration(region: sqsRegion, endpoint: try endpoint("sqs.endpoint", "AWS_ENDPOINT_URL_SQS")),
            sts: ServiceConfiguration(region: stsRegion, endpoint: try endpoint("sts.endpoint", "AWS_ENDPOINT_URL_STS")),
            http: http
        )
    }

    static func checkRegion(_ region: String, key: String) throws {
        let valid = !region.isEmpty && region.count <= 32
            && region.utf8.allSatisfy { ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x30 && $0 <= 0x39) || $0 == UInt8(ascii: "-") }
        guard valid else { throw Self.invalid(key, "\"\(region)\" is not a region name") }
    }

    static func invalid(_ key: String, _ reason: String) -> AWSError {
        AWSError(
            code: AWSError.Code.invalidConfiguration,
            category: .permanent,
            message: "\(key): \(reason)",
            service: "config",
            operation: "load"
        )
    }
}

/// Region and endpoint of one service.
public struct ServiceConfiguration: Sendable, Hashable {
    /// The region in the signing scope and the default endpoint.
    public var region: String
    /// A custom endpoint; nil for AWS's own.
    public var endpoint: AWSEndpoint?

    /// Creates a service configuration.
    public init(region: String, endpoint: AWSEndpoint? = nil) {
        self.region = region
        self.endpoint = endpoint
    }

    /// The endpoint to use: the custom one or `https://<service>.<region>.amazonaws.com`.
    func resolvedEndpoint(service: String) -> AWSEndpoint {
        self.endpoint ?? AWSEndpoint(scheme: "https", host: "\(service).\(self.region).amazonaws.com")
    }
}

/// S3 settings (see ``AWSConfiguration`` for the keys).
public struct S3Configuration: Sendable, Hashable {
    /// 5 GiB, the largest object a single PUT can create.
    public static let defaultMaxObjectBytes: Int64 = 5 * 1024 * 1024 * 1024

    /// `s3.region`.
    public var region: String
    /// `s3.endpoint`; nil for AWS's own.
    public var endpoint: AWSEndpoint?
    /// `s3.path_style`.
    public var pathStyle: Bool
    /// `s3.max_object_bytes`.
    public var maxObjectBytes: Int64

    /// Creates S3 settings.
    public init(region: String, endpoint: AWSEndpoint? = nil, pathStyle: Bool = false, maxObjectBytes: Int64 = Self.defaultMaxObjectBytes) {
        self.region = region
        self.endpoint = endpoint
        self.pathStyle = pathStyle
        self.maxObjectBytes = maxObjectBytes
    }
}

/// Settings of the HTTP client shared by the AWS clients.
public struct AWSHTTPConfiguration: Sendable, Hashable {
    /// `aws.connect_timeout_seconds`.
    public var connectTimeoutSeconds: Int = 10
    /// `aws.read_timeout_seconds`: the longest pause between two reads.
    public var readTimeoutSeconds: Int = 60

    /// Creates HTTP settings with the defaults.
    public init(connectTimeoutSeconds: Int = 10, readTimeoutSeconds: Int = 60) {
        self.connectTimeoutSeconds = connectTimeoutSeconds
        self.readTimeoutSeconds = readTimeoutSeconds
    }
}

extension String {
    var trimmingWhitespace: String {
        var scalars = Substring(self)
        while let first = scalars.first, first.isWhitespace { scalars.removeFirst() }
        while let last = scalars.last, last.isWhitespace { scalars.removeLast() }
        return String(scalars)
    }
}
