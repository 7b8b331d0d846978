import Configuration
public import SluiceCore
public import SluiceIntake
public import SluiceJournal
public import SluiceScheduler
public import SluiceLoader
import Foundation
import SystemPackage
import Yams

/// Sluice's whole configuration: a YAML file, overridden by `SLUICE_`-prefixed environment variables
/// (`http.port` → `SLUICE_HTTP_PORT`), with the standard AWS variables honoured for S3 settings.
public struct SluiceConfiguration: Sendable {
    public var server: ServerConfiguration
    public var intake: IntakeConfiguration
    public var journal: JournalConfiguration
    /// `clickhouse.*`, `s3.*`, `parquet.*`, `ledger.on_new_version`: how files are read and loaded.
    public var load: LoadConfiguration
    public var log: LogSettings
    public var loader: LoaderConfiguration
    public var sqs: SQSConsumerConfiguration

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
        "http.body_timeout_s", "http.header_timeout_s", "http.max_connections", "http.drain_seconds", "http.retry_after_s",
        "auth.api_keys", "auth.header", "auth.protect_ops",
        "intake.bucket", "intake.min_size", "intake.pattern_file", "intake.domains",
        "journal.path", "journal.max_pending", "journal.max_batch", "journal.dead_letter_payload_limit",
        "clickhouse.url", "clickhouse.user", "clickhouse.password", "clickhouse.tls_verify", "clickhouse.block_rows",
        "clickhouse.block_bytes", "clickhouse.match_case_insensitive", "clickhouse.parquet_passthrough",
        "clickhouse.connect_timeout_s", "clickhouse.request_timeout_s",
        "s3.region", "s3.endpoint", "s3.path_style", "s3.max_object_bytes", "parquet.verify_checksums", "ledger.on_new_version",
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
        load = LoadConfiguration(values: values)
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
        out += "  body_timeout_s: \(server.bodyTimeoutSeconds)\n  header_timeout_s: \(server.headerTimeoutSeconds)\n"
        out += "  max_connections: \(server.maxConnections)\n"
        out += "  drain_seconds: \(server.drainSeconds)\n  retry_after_s: \(server.retryAfterSeconds)\n"
        out += "auth:\n  api_keys: [\(server.apiKeys.map { _ in "<redacted>" }.joined(separator: ", "))]\n"
        out += "  header: \(q(server.authHeader))\n  protect_ops: \(server.protectOps)\n"
        out += "intake:\n  bucket: \(q(intake.bucket))\n  min_size: \(intake.minSize)\n"
        if let p = intake.patternFile { out += "  pattern_file: \(q(p))\n" }
        out += "  domains: [\(intake.domains.map(\.name).joined(separator: ", "))]\n"
        out += "journal:\n  path: \(q(journal.path))\n  max_pending: \(journal.maxPending)\n  max_batch: \(journal.maxGroupCommit)\n"
        out += "  dead_letter_payload_limit: \(journal.invalidPayloadLimit)\n"
        out += load.redactedYAML()
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
