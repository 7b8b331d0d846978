public import Configuration
public import SluiceCore
public import SluiceIntake
public import SluiceJournal
public import SluiceScheduler
import Foundation
import SystemPackage
import Yams

/// Sluice's whole configuration: a YAML file, overridden by `SLUICE_`-prefixed environment variables
/// (`http.port` → `SLUICE_HTTP_PORT`), with the standard AWS variables honoured for S3 settings.
public struct SluiceConfiguration: Sendable {
    public var server: ServerConfiguration
    public var intake: IntakeConfiguration
    public var journal: JournalConfiguration
    public var clickhouse: ClickHouseSettings
    public var s3: S3Settings
    public var log: LogSettings
    public var loader: LoaderConfiguration
    public var sqs: SQSConsumerConfiguration

    /// `clickhouse.*`: where rows go.
    public struct ClickHouseSettings: Sendable {
        /// `clickhouse.url` (default `http://127.0.0.1:8123`).
        public var url: String
        /// `clickhouse.user` (default `default`).
        public var user: String
        /// `clickhouse.password` (secret, default empty).
        public var password: String
    }

    /// `s3.*`: where files come from.
    public struct S3Settings: Sendable {
        /// `s3.region` (default `AWS_REGION`, then `AWS_DEFAULT_REGION`, then `us-east-1`).
        public var region: String
        /// `s3.endpoint` (default `AWS_ENDPOINT_URL_S3`, then `AWS_ENDPOINT_URL`, else AWS).
        public var endpoint: String?
        /// `s3.path_style` (default `false`; `true` for most S3-compatible stores).
        public var pathStyle: Bool
    }

    /// `log.*`: how Sluice logs.
    public struct LogSettings: Sendable {
        /// `log.level` (`trace|debug|info|notice|warning|error|critical`, default `info`).
        public var level: String
        /// `log.format` (`json|text`, default `json`).
        public var format: String
    }

    /// Every key Sluice reads, for unknown-key detection (`domains.<name>.*` are matched separately).
    public static let knownKeys: Set<String> = [
        "http.host", "http.port", "http.max_body_bytes", "http.max_json_depth", "http.idle_timeout_s",
        "http.body_timeout_s", "http.max_connections", "http.drain_seconds", "http.retry_after_s",
        "auth.api_keys", "auth.header", "auth.protect_ops",
        "intake.bucket", "intake.min_size", "intake.pattern_file", "intake.domains",
        "journal.path", "journal.max_pending", "journal.max_batch", "journal.dead_letter_payload_limit",
        "clickhouse.url", "clickhouse.user", "clickhouse.password",
        "s3.region", "s3.endpoint", "s3.path_style",
        "log.level", "log.format",
        "loader.workers", "loader.memory_budget_bytes", "loader.table_concurrency", "loader.processing_timeout_s",
        "loader.batch_wait_s", "loader.batch_max_bytes", "loader.poll_interval_ms", "loader.shutdown_grace_s",
        "loader.retry.connection_backoff_s", "loader.retry.memory_backoff_s",
        "ledger.retention_days", "dlq.sqs_queue_url",
        "sqs.queue_urls", "sqs.wait_time_s", "sqs.max_messages", "sqs.visibility_timeout_s", "sqs.extend_interval_s",
    ]

    /// The keys that may appear under `domains.<name>.`.
    public static let domainKeys: Set<String> = ["prefix", "database", "table_pattern", "priority", "batch_min", "batch_max", "max_pending"]

    /// The keys whose values are secrets: never printed, never logged.
    public static let secretKeys: Set<String> = ["auth.api_keys", "clickhouse.password"]

    /// Reads the configuration. Returns it with every problem found; the caller refuses to start when
    /// there are problems.
    ///
    /// - Parameters:
    ///   - file: the YAML file, or `nil` for defaults and environment only.
    ///   - environment: the process environment (injectable for tests).
    public static func load(file: String?, environment: [String: String]) async throws -> (SluiceConfiguration, [ConfigProblem]) {
        var providers: [any ConfigProvider] = []
        let sluiceEnvironment = environment.filter { $0.key.hasPrefix("SLUICE_") }
        let secretEnvNames = Set(secretKeys.map { "SLUICE_" + $0.replacingOccurrences(of: ".", with: "_").uppercased() })
        providers.append(
            EnvironmentVariablesProvider(
                environmentVariables: sluiceEnvironment,
                secretsSpecifier: .specific(secretEnvNames)
            ).prefixKeys(with: ["sluice"])
        )
        var fileProblems: [ConfigProblem] = []
        var domainNames: [String] = []
        if let file {
            let text: String
            do {
                text = try String(contentsOfFile: file, encoding: .utf8)
            } catch {
                throw ConfigurationError(problems: [ConfigProblem(key: "(file)", reason: "cannot read \(file): \(error.localizedDescription)")])
            }
            let tree: Any?
            do {
                tree = try Yams.load(yaml: text)
            } catch {
                throw ConfigurationError(problems: [ConfigProblem(key: "(file)", reason: "\(file) is not valid YAML: \(error)")])
            }
            if let tree {
                guard let root = tree as? [String: Any] else {
                    throw ConfigurationError(problems: [ConfigProblem(key: "(file)", reason: "\(file) must hold a YAML mapping at the top level")])
                }
                (fileProblems, domainNames) = inspect(root)
                providers.append(
                    try await FileProvider<YAMLSnapshot>(
                        parsingOptions: .init(secretsSpecifier: .specific(secretKeys)),
                        filePath: FilePath(file)
                    )
                )
            }
        }
        let reader = ConfigReader(providers: providers)
        let values = ConfigValues(reader)
        let configuration = SluiceConfiguration(values: values, domainNamesInFile: domainNames, environment: environment)
        return (configuration, fileProblems + values.problems)
    }

    /// Walks the file's tree: flags keys Sluice does not know (typos would otherwise be ignored silently)
    /// and collects the domain names under `domains`.
    static func inspect(_ root: [String: Any]) -> ([ConfigProblem], [String]) {
        var problems: [ConfigProblem] = []
        var domains: [String] = []
        func walk(_ node: Any, _ path: [String]) {
            if let map = node as? [String: Any] {
                if path == ["domains"] {
                    for (name, value) in map.sorted(by: { $0.key < $1.key }) {
                        domains.append(name)
                        guard let fields = value as? [String: Any] else {
                            problems.append(ConfigProblem(key: "domains.\(name)", reason: "must be a mapping of domain settings"))
                            continue
                        }
                        for key in fields.keys.sorted() where !domainKeys.contains(key) {
                            problems.append(ConfigProblem(key: "domains.\(name).\(key)", reason: "unknown key"))
                        }
                    }
                    return
                }
                for (key, value) in map { walk(value, path + [key]) }
                if map.isEmpty, !path.isEmpty, !knownKeys.contains(path.joined(separator: ".")) {
                    problems.append(ConfigProblem(key: path.joined(separator: "."), reason: "unknown key"))
                }
                return
            }
            let key = path.joined(separator: ".")
            if !knownKeys.contains(key) {
                problems.append(ConfigProblem(key: key, reason: "unknown key"))
            }
        }
        walk(root, [])
        return (problems.sorted { $0.key < $1.key }, domains)
    }

    public init(values: ConfigValues, domainNamesInFile: [String] = [], environment: [String: String] = [:]) {
        server = ServerConfiguration(values: values)
        intake = IntakeConfiguration(values: values, domainNamesInFile: domainNamesInFile)
        journal = JournalConfiguration(values: values)
        let ch = values.scoped("clickhouse")
        clickhouse = ClickHouseSettings(
            url: ch.string("url", default: "http://127.0.0.1:8123"),
            user: ch.string("user", default: "default"),
            password: ch.string("password", default: "", isSecret: true)
        )
        if let url = URL(string: clickhouse.url), let scheme = url.scheme, ["http", "https"].contains(scheme), url.host != nil, url.user == nil, url.password == nil {
        } else {
            ch.problem("url", "must be an http:// or https:// URL without credentials (use clickhouse.user and clickhouse.password)")
        }
        let s3v = values.scoped("s3")
        let region = s3v.optionalString("region") ?? environment["AWS_REGION"] ?? environment["AWS_DEFAULT_REGION"] ?? "us-east-1"
        let endpoint = s3v.optionalString("endpoint") ?? environment["AWS_ENDPOINT_URL_S3"] ?? environment["AWS_ENDPOINT_URL"]
        s3 = S3Settings(region: region, endpoint: endpoint, pathStyle: s3v.bool("path_style", default: false))
        if let endpoint {
            if let url = URL(string: endpoint), let scheme = url.scheme, ["http", "https"].contains(scheme), url.host != nil {
            } else {
                s3v.problem("endpoint", "must be an http:// or https:// URL (got \"\(endpoint)\")")
            }
        }
        loader = LoaderConfiguration(values: values)
        sqs = SQSConsumerConfiguration(values: values)
        let l = values.scoped("log")
        log = LogSettings(level: l.string("level", default: "info").lowercased(), format: l.string("format", default: "json").lowercased())
        if !["trace", "debug", "info", "notice", "warning", "error", "critical"].contains(log.level) {
            l.problem("level", "must be one of trace, debug, info, notice, warning, error, critical")
        }
        if !["json", "text"].contains(log.format) { l.problem("format", "must be json or text") }
    }

    /// Problems that only matter when serving (a bucket to filter on).
    public var serveProblems: [ConfigProblem] {
        intake.bucket.isEmpty ? [ConfigProblem(key: "intake.bucket", reason: "is required: the curated bucket whose events Sluice loads")] : []
    }

    /// The resolved configuration as YAML, secrets replaced by `<redacted>`.
    public func redactedYAML() -> String {
        func q(_ s: String) -> String {
            let safe = !s.isEmpty && s.allSatisfy { $0.isLetter || $0.isNumber || "._-/:".contains($0) } && !["true", "false", "null", "yes", "no"].contains(s.lowercased())
            return safe ? s : "\"" + s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
        }
        var out = ""
        out += "http:\n  host: \(q(server.host))\n  port: \(server.port)\n  max_body_bytes: \(server.maxBodyBytes)\n"
        out += "  max_json_depth: \(server.maxJSONDepth)\n  idle_timeout_s: \(server.idleTimeoutSeconds)\n"
        out += "  body_timeout_s: \(server.bodyTimeoutSeconds)\n  max_connections: \(server.maxConnections)\n"
        out += "  drain_seconds: \(server.drainSeconds)\n  retry_after_s: \(server.retryAfterSeconds)\n"
        out += "auth:\n  api_keys: [\(server.apiKeys.map { _ in "<redacted>" }.joined(separator: ", "))]\n"
        out += "  header: \(q(server.authHeader))\n  protect_ops: \(server.protectOps)\n"
        out += "intake:\n  bucket: \(q(intake.bucket))\n  min_size: \(intake.minSize)\n"
        if let p = intake.patternFile { out += "  pattern_file: \(q(p))\n" }
        out += "  domains: [\(intake.domains.map(\.name).joined(separator: ", "))]\n"
        out += "journal:\n  path: \(q(journal.path))\n  max_pending: \(journal.maxPending)\n  max_batch: \(journal.maxGroupCommit)\n"
        out += "  dead_letter_payload_limit: \(journal.invalidPayloadLimit)\n"
        out += "clickhouse:\n  url: \(q(clickhouse.url))\n  user: \(q(clickhouse.user))\n"
        out += "  password: \(clickhouse.password.isEmpty ? "\"\"" : "<redacted>")\n"
        out += "s3:\n  region: \(q(s3.region))\n"
        if let e = s3.endpoint { out += "  endpoint: \(q(e))\n" }
        out += "  path_style: \(s3.pathStyle)\n"
        out += "log:\n  level: \(log.level)\n  format: \(log.format)\n"
        out += "loader:\n  workers: \(loader.workers)\n  memory_budget_bytes: \(loader.memoryBudgetBytes)\n"
        out += "  table_concurrency: \(loader.tableConcurrency)\n  processing_timeout_s: \(loader.processingTimeoutSeconds)\n"
        out += "  batch_wait_s: \(loader.batchWaitSeconds)\n  batch_max_bytes: \(loader.batchMaxBytes)\n"
        out += "  poll_interval_ms: \(loader.pollIntervalMilliseconds)\n  shutdown_grace_s: \(loader.shutdownGraceSeconds)\n"
        out += "  retry:\n    connection_backoff_s: [\(loader.connectionBackoff.map { "\($0)" }.joined(separator: ", "))]\n"
        out += "    memory_backoff_s: [\(loader.memoryBackoff.map { "\($0)" }.joined(separator: ", "))]\n"
        out += "ledger:\n  retention_days: \(loader.retentionDays)\n"
        if let dlq = loader.deadLetterQueueURL { out += "dlq:\n  sqs_queue_url: \(q(dlq))\n" }
        out += "sqs:\n  queue_urls: [\(sqs.queueURLs.map(q).joined(separator: ", "))]\n  wait_time_s: \(sqs.waitTimeSeconds)\n"
        out += "  max_messages: \(sqs.maxMessages)\n  visibility_timeout_s: \(sqs.visibilityTimeoutSeconds)\n"
        out += "  extend_interval_s: \(sqs.extendIntervalSeconds)\n"
        out += "domains:\n"
        for d in intake.domains {
            out += "  \(d.name):\n    prefix: \(q(d.prefix))\n    database: \(q(d.database))\n    table_pattern: \(q(d.tablePattern))\n"
            out += "    priority: \(d.priority.rawValue)\n    batch_min: \(d.batchMin)\n    batch_max: \(d.batchMax)\n"
            if let m = d.maxPending { out += "    max_pending: \(m)\n" }
        }
        return out
    }
}
