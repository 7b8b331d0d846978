/// Sluice's error codes, exactly the seed specification's table.
///
/// Every failure that reaches a user (an HTTP error body, a dead letter, a log line, a metric label)
/// carries one of these codes. Categories that decide retries (connection, memory, schema, …) are finer
/// than codes; see ``FailureCategory``.
public enum ErrorCode: String, Sendable, CaseIterable, Codable, Hashable {
    /// Invalid event schema: the input is not an event Sluice understands.
    case invalidEvent = "E001"
    /// Unsupported file format: the object is not Parquet (or uses a feature Sluice refuses, such as encryption).
    case unsupportedFormat = "E002"
    /// Parse failure: the Parquet file is damaged, or its data does not fit the target table.
    case parseFailure = "E003"
    /// Connection timeout: a network-level failure talking to S3 or ClickHouse.
    case connection = "E004"
    /// Database unavailable: ClickHouse answered, but cannot take the insert now.
    case databaseUnavailable = "E005"
    /// Memory exhaustion: ClickHouse or Sluice ran out of memory for this load.
    case memory = "E006"

    /// The seed's one-line description of the code.
    public var summary: String {
        switch self {
        case .invalidEvent: "Invalid event schema"
        case .unsupportedFormat: "Unsupported file format"
        case .parseFailure: "Parse failure"
        case .connection: "Connection timeout"
        case .databaseUnavailable: "Database unavailable"
        case .memory: "Memory exhaustion"
        }
    }

    /// The seed's recovery column: what an operator does about an entry with this code.
    public var recoveryHint: String {
        switch self {
        case .invalidEvent: "Manual review: inspect the payload, fix the producer, then re-send or delete the entry."
        case .unsupportedFormat: "File reprocessing: re-export the object as Parquet, upload it again, then replay."
        case .parseFailure: "Data correction: fix the file or the table schema (see the message), then replay."
        case .connection: "Auto-retry: Sluice retried with backoff; check network reachability, then replay."
        case .databaseUnavailable: "Service recovery: bring ClickHouse back (or reduce its load), then replay."
        case .memory: "Resource scaling: raise ClickHouse or Sluice memory limits or shrink row groups, then replay."
        }
    }
}

/// Why an attempt failed, at the granularity the retry policy needs.
///
/// The seed's retry table distinguishes connection, network, memory, schema and permission errors;
/// malformed input and unsupported or unparsable files never retry.
public enum FailureCategory: String, Sendable, CaseIterable, Codable, Hashable {
    case invalidInput = "invalid_input"
    case unsupportedFormat = "unsupported_format"
    case parse
    case connection
    case network
    case databaseUnavailable = "database_unavailable"
    case memory
    case schema
    case permission
    case notFound = "not_found"
    case timeout

    /// The error code reported for this category.
    public var code: ErrorCode {
        switch self {
        case .invalidInput: .invalidEvent
        case .unsupportedFormat: .unsupportedFormat
        case .parse, .schema, .notFound: .parseFailure
        case .permission: .parseFailure
        case .connection, .network, .timeout: .connection
        case .databaseUnavailable: .databaseUnavailable
        case .memory: .memory
        }
    }
}
