import AWS
import ClickHouse
import Configuration
import Foundation
import Parquet
import SluiceCore
import SluiceLoader
import Testing

@Suite("Load configuration")
struct LoadConfigurationTests {
    /// Values as the environment gives them (`clickhouse.block_rows` is `CLICKHOUSE_BLOCK_ROWS`): text, converted by
    /// the reader.
    func read(_ values: [String: String]) -> (LoadConfiguration, [ConfigProblem]) {
        var environment: [String: String] = [:]
        for (key, value) in values { environment[key.replacingOccurrences(of: ".", with: "_").uppercased()] = value }
        let provider = EnvironmentVariablesProvider(environmentVariables: environment, secretsSpecifier: .specific(["CLICKHOUSE_PASSWORD"]))
        let config = ConfigValues(ConfigReader(provider: provider))
        return (LoadConfiguration(values: config), config.problems)
    }

    @Test func defaults() throws {
        let (configuration, problems) = read([:])
        #expect(problems.isEmpty)
        #expect(configuration.clickhouseURL == "http://127.0.0.1:8123")
        #expect(configuration.clickhouseUser == "default")
        #expect(configuration.clickhousePassword == "")
        #expect(configuration.clickhouseTLSVerify)
        #expect(configuration.blockRows == 65536)
        #expect(configuration.blockBytes == 4 << 20)
        #expect(!configuration.matchCaseInsensitive)
        #expect(!configuration.parquetPassthrough)
        #expect(configuration.connectTimeoutSeconds == 5)
        #expect(configuration.requestTimeoutSeconds == 300)
        #expect(configuration.s3Region == nil)
        #expect(configuration.s3Endpoint == nil)
        #expect(!configuration.s3PathStyle)
        #expect(configuration.maxObjectBytes == 5 << 30)
        #expect(configuration.verifyChecksums)
        #expect(configuration.onNewVersion == .load)
        #expect(configuration == LoadConfiguration())
    }

    @Test func everyKeyIsRead() throws {
        let (configuration, problems) = read([
            "clickhouse.url": "https://ch.example:8443/", "clickhouse.user": "loader", "clickhouse.password": "s3cret",
            "clickhouse.tls_verify": "false", "clickhouse.block_rows": "1000", "clickhouse.block_bytes": "1048576",
            "clickhouse.match_case_insensitive": "true", "clickhouse.parquet_passthrough": "true", "clickhouse.connect_timeout_s": "2.5",
            "clickhouse.request_timeout_s": "60", "s3.region": "eu-west-1", "s3.endpoint": "http://127.0.0.1:9000", "s3.path_style": "true",
            "s3.max_object_bytes": "1000000", "parquet.verify_checksums": "false", "ledger.on_new_version": "skip",
        ])
        #expect(problems.isEmpty, "\(problems)")
        #expect(configuration.blockRows == 1000)
        #expect(configuration.blockBytes == 1_048_576)
        #expect(configuration.matchCaseInsensitive && configuration.parquetPassthrough)
        #expect(configuration.onNewVersion == .skip)
        #expect(!configuration.verifyChecksums)
        #expect(!configuration.parquetOptions.verifyChecksums)

        let clickhouse = try configuration.makeClickHouseConfiguration()
        #expect(clickhouse.endpoint.baseURL == "https://ch.example:8443/")
        #expect(clickhouse.user == "loader")
        #expect(clickhouse.password == "s3cret")
        #expect(!clickhouse.tlsVerify)
        #expect(clickhouse.connectTimeout == .milliseconds(2500))
        #expect(clickhouse.readTimeout == .seconds(60))
        #expect(!clickhouse.description.contains("s3cret"))

        let aws = try configuration.makeAWSConfiguration(environment: AWSEnvironment(variables: ["AWS_ENDPOINT_URL_S3": "http://10.0.0.1:1"]) { _ in nil })
        #expect(aws.s3.region == "eu-west-1")
        #expect(aws.s3.endpoint == (try AWSEndpoint(url: "http://127.0.0.1:9000")), "the key wins over the environment")
        #expect(aws.s3.pathStyle)
        #expect(aws.s3.maxObjectBytes == 1_000_000)

        let yaml = configuration.redactedYAML()
        #expect(!yaml.contains("s3cret"))
        #expect(yaml.contains("password: <redacted>"))
        #expect(yaml.contains("on_new_version: skip"))
    }

    @Test func theEnvironmentFillsWhatTheKeysLeaveOpen() throws {
        let aws = try LoadConfiguration().makeAWSConfiguration(
            environment: AWSEnvironment(variables: ["AWS_REGION": "ap-south-1", "AWS_ENDPOINT_URL_S3": "http://127.0.0.1:4566"]) { _ in nil })
        #expect(aws.s3.region == "ap-south-1")
        #expect(aws.s3.endpoint == (try AWSEndpoint(url: "http://127.0.0.1:4566")))
        #expect(aws.s3.maxObjectBytes == S3Configuration.defaultMaxObjectBytes)
    }

    @Test func everyBadKeyIsNamed() {
        let (_, problems) = read([
            "clickhouse.url": "ftp://nowhere", "clickhouse.block_rows": "0", "clickhouse.block_bytes": "lots",
            "clickhouse.tls_verify": "maybe", "clickhouse.connect_timeout_s": "0", "s3.region": "Not A Region",
            "s3.endpoint": "nowhere", "s3.max_object_bytes": "-1", "ledger.on_new_version": "sometimes", "parquet.verify_checksums": "yes please",
        ])
        let keys = Set(problems.map(\.key))
        #expect(keys == [
            "clickhouse.url", "clickhouse.block_rows", "clickhouse.block_bytes", "clickhouse.tls_verify", "clickhouse.connect_timeout_s",
            "s3.region", "s3.endpoint", "s3.max_object_bytes", "ledger.on_new_version", "parquet.verify_checksums",
        ], "\(problems)")
    }

    @Test func credentialsInTheURLAreRefused() {
        let (_, problems) = read(["clickhouse.url": "http://user:pass@127.0.0.1:8123"])
        #expect(problems.map(\.key) == ["clickhouse.url"])
        #expect(problems.allSatisfy { !$0.reason.contains("pass@") })
    }

    @Test func theKeyListIsComplete() {
        #expect(LoadConfiguration.keys.count == 16)
        #expect(LoadConfiguration.secretKeys == ["clickhouse.password"])
        #expect(LoadConfiguration.keys.isSuperset(of: LoadConfiguration.secretKeys))
    }
}
