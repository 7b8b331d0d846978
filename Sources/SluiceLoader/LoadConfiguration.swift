public import AWS
public import ClickHouse
public import Parquet
public import SluiceCore

/// How files are read and loaded: the ClickHouse server, S3, the Parquet reader and the ledger's policy.
///
/// ## Configuration keys
/// | key | type | default | meaning |
/// |---|---|---|---|
/// | `clickhouse.url` | string | `http://127.0.0.1:8123` | `http(s)://host[:port][/path]`, no credentials in it |
/// | `clickhouse.user` | string | `default` | sent as `X-ClickHouse-User` |
/// | `clickhouse.password` | string, **secret** | empty | sent as `X-ClickHouse-Key`; never printed or logged |
/// | `clickhouse.tls_verify` | bool | `true` | verify an https server's certificate and host name |
/// | `clickhouse.block_rows` | int | `65536` | most rows per Native block sent |
/// | `clickhouse.block_bytes` | int | `4194304` | about the most bytes per Native block sent (the server squashes blocks into parts itself; smaller blocks keep the loader's memory low) |
/// | `clickhouse.match_case_insensitive` | bool | `false` | match file columns to table columns ignoring ASCII case |
/// | `clickhouse.parquet_passthrough` | bool | `false` | let servers that can (19.15+) decode the Parquet file themselves |
/// | `clickhouse.connect_timeout_s` | number | `5` | TCP and TLS connect timeout |
/// | `clickhouse.request_timeout_s` | number | `300` | longest wait for the next byte of a ClickHouse response |
/// | `s3.region` | string | `aws.region`, `AWS_REGION`, `AWS_DEFAULT_REGION`, profile, `us-east-1` | S3 signing region |
/// | `s3.endpoint` | string | `AWS_ENDPOINT_URL_S3`, `AWS_ENDPOINT_URL`, AWS | S3-compatible endpoint |
/// | `s3.path_style` | bool | `false` | `/<bucket>/<key>` addressing |
/// | `s3.max_object_bytes` | int | `5368709120` (5 GiB) | larger objects are refused before download (E002) |
/// | `parquet.verify_checksums` | bool | `true` | check page CRC-32s where the writer stored them |
/// | `ledger.on_new_version` | `load` or `skip` | `load` | what a new version of an already loaded key does |
public struct LoadConfiguration: Sendable, Hashable {
    /// What to do with a new version of a key whose earlier version was loaded.
    public enum NewVersionPolicy: String, Sendable, Hashable, CaseIterable {
        /// Load it: a re-upload with a new ETag is new data.
        case load
        /// Skip it (recorded in the entry's history), keeping only the first version's rows.
        case skip
    }

    /// `clickhouse.url`.
    public var clickhouseURL: String
    /// `clickhouse.user`.
    public var clickhouseUser: String
    /// `clickhouse.password`: secret; never part of ``description``-like output.
    public var clickhousePassword: String
    /// `clickhouse.tls_verify`.
    public var clickhouseTLSVerify: Bool
    /// `clickhouse.block_rows`.
    public var blockRows: Int
    /// `clickhouse.block_bytes`.
    public var blockBytes: Int
    /// `clickhouse.match_case_insensitive`.
    public var matchCaseInsensitive: Bool
    /// `clickhouse.parquet_passthrough`.
    public var parquetPassthrough: Bool
    /// `clickhouse.connect_timeout_s`.
    public var connectTimeoutSeconds: Double
    /// `clickhouse.request_timeout_s`.
    public var requestTimeoutSeconds: Double
    /// `s3.region`, when set (otherwise the AWS fallbacks apply).
    public var s3Region: String?
    /// `s3.endpoint`, when set (otherwise `AWS_ENDPOINT_URL_S3`, `AWS_ENDPOINT_URL`, then AWS).
    public var s3Endpoint: String?
    /// `s3.path_style`.
    public var s3PathStyle: Bool
    /// `s3.max_object_bytes`.
    public var maxObjectBytes: Int64
    /// `parquet.verify_checksums`.
    public var verifyChecksums: Bool
    /// `ledger.on_new_version`.
    public var onNewVersion: NewVersionPolicy

    /// Every key this configuration reads (for unknown-key detection).
    public static let keys: Set<String> = [
        "clickhouse.url", "clickhouse.user", "clickhouse.password", "clickhouse.tls_verify", "clickhouse.block_rows",
        "clickhouse.block_bytes", "clickhouse.match_case_insensitive", "clickhouse.parquet_passthrough",
        "clickhouse.connect_timeout_s", "clickhouse.request_timeout_s", "s3.region", "s3.endpoint", "s3.path_style",
        "s3.max_object_bytes", "parquet.verify_checksums", "ledger.on_new_version",
    ]

    /// The keys whose values are secrets.
    public static let secretKeys: Set<String> = ["clickhouse.password"]

    /// A configuration with every default (and `url`).
    public init(clickhouseURL: String = "http://127.0.0.1:8123") {
        self.clickhouseURL = clickhouseURL
        clickhouseUser = "default"
        clickhousePassword = ""
        clickhouseTLSVerify = true
        blockRows = 65536
        blockBytes = 4 << 20
        matchCaseInsensitive = false
        parquetPassthrough = false
        connectTimeoutSeconds = 5
        requestTimeoutSeconds = 300
        s3Region = nil
        s3Endpoint = nil
        s3PathStyle = false
        maxObjectBytes = S3Configuration.defaultMaxObjectBytes
        verifyChecksums = true
        onNewVersion = .load
    }

    /// Reads the keys listed in the type's documentation, recording each bad one in `values`' problems.
    public init(values: ConfigValues) {
        self.init()
        let ch = values.scoped("clickhouse")
        clickhouseURL = ch.string("url", default: clickhouseURL)
        clickhouseUser = ch.string("user", default: clickhouseUser)
        clickhousePassword = ch.string("password", default: "", isSecret: true)
        clickhouseTLSVerify = ch.bool("tls_verify", default: true)
        blockRows = ch.int("block_rows", default: blockRows, range: 1...16_777_216)
        blockBytes = ch.int("block_bytes", default: blockBytes, range: 4096...(1 << 30))
        matchCaseInsensitive = ch.bool("match_case_insensitive", default: false)
        parquetPassthrough = ch.bool("parquet_passthrough", default: false)
        connectTimeoutSeconds = ch.double("connect_timeout_s", default: connectTimeoutSeconds, range: 0.1...600)
        requestTimeoutSeconds = ch.double("request_timeout_s", default: requestTimeoutSeconds, range: 1...86_400)
        do {
            _ = try makeClickHouseConfiguration()
        } catch {
            let key = error.key == "clickhouse.read_timeout_s" ? "request_timeout_s" : String(error.key.dropFirst("clickhouse.".count))
            ch.problem(key, error.reason)
        }

        let s3 = values.scoped("s3")
        s3Region = s3.optionalString("region").flatMap { $0.isEmpty ? nil : $0 }
        s3Endpoint = s3.optionalString("endpoint").flatMap { $0.isEmpty ? nil : $0 }
        s3PathStyle = s3.bool("path_style", default: false)
        maxObjectBytes = Int64(s3.int("max_object_bytes", default: Int(maxObjectBytes), range: 1...Int(Int64.max)))
        if let region = s3Region, !Self.isRegionName(region) { s3.problem("region", "\"\(region)\" is not a region name") }
        if let endpoint = s3Endpoint {
            do {
                _ = try AWSEndpoint(url: endpoint)
            } catch {
                s3.problem("endpoint", "must be an http:// or https:// URL (got \"\(endpoint)\")")
            }
        }

        verifyChecksums = values.scoped("parquet").bool("verify_checksums", default: true)
        onNewVersion = values.scoped("ledger").choice("on_new_version", default: NewVersionPolicy.load)
    }

    /// The ClickHouse client's configuration.
    /// - Throws: `ClickHouseConfigurationError` naming the bad key.
    public func makeClickHouseConfiguration() throws(ClickHouseConfigurationError) -> ClickHouseConfiguration {
        try ClickHouseConfiguration(
            url: clickhouseURL, user: clickhouseUser, password: clickhousePassword, tlsVerify: clickhouseTLSVerify,
            connectTimeout: .milliseconds(Int64((connectTimeoutSeconds * 1000).rounded())),
            readTimeout: .milliseconds(Int64((requestTimeoutSeconds * 1000).rounded())))
    }

    /// The AWS clients' configuration: these `s3.*` values, then the standard AWS variables of `environment`.
    /// - Throws: `AWSError` (`InvalidConfiguration`) naming the bad key.
    public func makeAWSConfiguration(environment: AWSEnvironment) throws -> AWSConfiguration {
        var flat: [String: String] = ["s3.path_style": s3PathStyle ? "true" : "false", "s3.max_object_bytes": String(maxObjectBytes)]
        if let s3Region { flat["s3.region"] = s3Region }
        if let s3Endpoint { flat["s3.endpoint"] = s3Endpoint }
        return try AWSConfiguration(values: flat, environment: environment)
    }

    /// The Parquet reader's options.
    public var parquetOptions: ParquetReadOptions {
        ParquetReadOptions(verifyChecksums: verifyChecksums)
    }

    /// The resolved values as YAML lines (the password redacted), for `sluice config check`.
    public func redactedYAML() -> String {
        var out = "clickhouse:\n"
        out += "  url: \"\(clickhouseURL)\"\n  user: \"\(clickhouseUser)\"\n"
        out += "  password: \(clickhousePassword.isEmpty ? "\"\"" : "<redacted>")\n"
        out += "  tls_verify: \(clickhouseTLSVerify)\n  block_rows: \(blockRows)\n  block_bytes: \(blockBytes)\n"
        out += "  match_case_insensitive: \(matchCaseInsensitive)\n  parquet_passthrough: \(parquetPassthrough)\n"
        out += "  connect_timeout_s: \(connectTimeoutSeconds)\n  request_timeout_s: \(requestTimeoutSeconds)\n"
        out += "s3:\n"
        if let s3Region { out += "  region: \"\(s3Region)\"\n" }
        if let s3Endpoint { out += "  endpoint: \"\(s3Endpoint)\"\n" }
        out += "  path_style: \(s3PathStyle)\n  max_object_bytes: \(maxObjectBytes)\n"
        out += "parquet:\n  verify_checksums: \(verifyChecksums)\n"
        out += "ledger:\n  on_new_version: \(onNewVersion.rawValue)\n"
        return out
    }

    static func isRegionName(_ region: String) -> Bool {
        !region.isEmpty && region.count <= 32
            && region.utf8.allSatisfy { ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x30 && $0 <= 0x39) || $0 == UInt8(ascii: "-") }
    }
}
