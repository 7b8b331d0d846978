package import AWS
package import ClickHouse
package import ClickHouseNative
package import Parquet
package import ParquetClickHouse
package import SluiceCore

/// The one place where the libraries' errors become pipeline errors (`SluiceError`: an E-code, a message and the
/// ``FailureCategory`` the retry policy is chosen by).
///
/// | source | category | code |
/// |---|---|---|
/// | AWS, retryable (5xx, transport, `NetworkError`) or throttled | `network` (`RequestTimeout`: `timeout`) | E004 |
/// | AWS `NoSuchKey`, `NoSuchBucket`, `NoSuchVersion`, 404 | `notFound` | E003 |
/// | AWS `PreconditionFailed` (the pinned object was replaced) | `notFound` | E003 |
/// | AWS `AccessDenied` and other credential refusals, `CredentialsNotFound` | `permission` | E003 |
/// | AWS `CredentialsUnavailable` (a configured source failed: instance metadata, STS) | `network` | E004 |
/// | AWS `ObjectTooLarge` (over `s3.max_object_bytes`, refused before download) | `unsupportedFormat` | E002 |
/// | AWS `InvalidBucketName`, `InvalidObjectKey`, `InvalidArgument` | `invalidInput` | E001 |
/// | AWS `InvalidRange` | `parse` | E003 |
/// | AWS, any other permanent error | `unsupportedFormat` | E002 |
/// | ClickHouse `connection` (refused, reset, timeouts, empty reply, TLS) | `connection` (read timeout: `timeout`) | E004 |
/// | ClickHouse `unavailable` (too many parts, quota, shutting down, 503) and `server` | `databaseUnavailable` | E005 |
/// | ClickHouse `memory` (241, 173) | `memory` | E006 |
/// | ClickHouse `schema` (unknown table or column, bad cast, parse errors) | `schema` | E003 |
/// | ClickHouse `permission` (192, 193, 497, 516, ...) | `permission` | E005 |
/// | ClickHouse `rejected` (syntax, unknown setting: a statement the server refuses as written) | `schema` (no retry) | E005 |
/// | Parquet `notParquet`, `encrypted`, `unsupported` | `unsupportedFormat` | E002 |
/// | Parquet `corrupt`, `resourceLimit`, `io` | `parse` | E003 |
/// | `SchemaMismatchError` (every bad column listed), `TranscodeValueError`, `NativeEncodingError` | `schema` | E003 |
/// | cancellation (processing timeout, shutdown) | `timeout` | E004 |
///
/// A ClickHouse permission error keeps E005 ("database unavailable: service recovery") because the fix is on the
/// server's side, not in the file; its category still stops retries.
package enum LoadErrorClassification {
    /// Classifies any error the loader meets. `file` names the object for messages (`s3://bucket/key`).
    package static func classify(_ error: any Error, file: String? = nil) -> SluiceError {
        switch error {
        case let error as SluiceError: return error
        case let error as AWSError: return classify(error)
        case let error as ClickHouseError: return classify(error)
        case let error as ParquetError: return classify(error, file: file)
        case let error as SchemaMismatchError: return classify(error, file: file)
        case let error as TranscodeValueError: return classify(error, file: file)
        case let error as NativeEncodingError: return classify(error, file: file)
        case is CancellationError:
            return SluiceError(category: .timeout, "the load was cancelled (processing timeout or shutdown) before it finished")
        case let error as ClickHouseConfigurationError:
            return SluiceError(category: .permission, "\(error)")
        default:
            return SluiceError(category: .databaseUnavailable, "unexpected failure: \(String(describing: error).prefix(500))")
        }
    }

    /// The error of a Parquet read. The reader reports a failed read of its byte source as its own `io` error; the
    /// source's failure (a network error is retried, a replaced object is not) is the real cause then.
    package static func classifyRead(_ error: any Error, sourceFailure: (any Error)?, file: String? = nil) -> SluiceError {
        if let parquet = error as? ParquetError, parquet.category == .io, let sourceFailure {
            return classify(sourceFailure, file: file)
        }
        return classify(error, file: file)
    }

    /// An S3 (or credentials) failure.
    package static func classify(_ error: AWSError) -> SluiceError {
        let what = error.resource.map { "\($0): " } ?? ""
        let detail = "\(error.operation) failed with \(error.code)\(error.httpStatus.map { " (HTTP \($0))" } ?? ""): \(error.message)"
            + (error.requestID.map { " (request id \($0))" } ?? "")
        if error.isNotFound || error.httpStatus == 404 {
            return SluiceError(category: .notFound, "\(what)the object does not exist: \(detail)")
        }
        switch error.code {
        case AWSError.Code.preconditionFailed:
            return SluiceError(category: .notFound, "\(what)the object was replaced while it was being read; its new version is loaded by its own event: \(detail)")
        case AWSError.Code.objectTooLarge:
            return SluiceError(
                category: .unsupportedFormat,
                "\(what)the object is larger than s3.max_object_bytes and was not downloaded; raise s3.max_object_bytes or split the file: \(detail)")
        case AWSError.Code.credentialsNotFound:
            return SluiceError(category: .permission, "no AWS credentials were found: \(detail)")
        case AWSError.Code.credentialsUnavailable:
            return SluiceError(category: .network, "the configured AWS credential source failed: \(detail)")
        case AWSError.Code.invalidBucketName, AWSError.Code.invalidObjectKey, AWSError.Code.invalidArgument:
            return SluiceError(category: .invalidInput, "\(what)\(detail)")
        case AWSError.Code.invalidRange:
            return SluiceError(category: .parse, "\(what)a read ran past the end of the object (is the file truncated?): \(detail)")
        case "RequestTimeout", "RequestTimeoutException":
            return SluiceError(category: .timeout, "\(what)\(detail)")
        default:
            break
        }
        if error.isAccessDenied || error.httpStatus == 403 {
            return SluiceError(category: .permission, "\(what)access denied; check the IAM policy (s3:GetObject on the key): \(detail)")
        }
        if error.isRetryable {
            return SluiceError(category: .network, "\(what)\(detail)")
        }
        return SluiceError(category: .unsupportedFormat, "\(what)S3 refused the object: \(detail)")
    }

    /// A ClickHouse failure.
    package static func classify(_ error: ClickHouseError) -> SluiceError {
        let text = "ClickHouse: \(error)"
        switch error.category {
        case .connection:
            return SluiceError(category: error.transport == .readTimeout ? .timeout : .connection, text)
        case .memory:
            return SluiceError(category: .memory, text)
        case .schema:
            return SluiceError(category: .schema, text)
        case .permission:
            return SluiceError(.databaseUnavailable, text, category: .permission)
        case .rejected:
            return SluiceError(.databaseUnavailable, text, category: .schema)
        default:
            // `unavailable` and `server`: the server cannot take the load now.
            return SluiceError(category: .databaseUnavailable, text)
        }
    }

    /// A Parquet decoding failure (the file's own problem).
    package static func classify(_ error: ParquetError, file: String? = nil) -> SluiceError {
        let prefix = file.map { "\($0): " } ?? ""
        switch error.category {
        case .notParquet:
            return SluiceError(category: .unsupportedFormat, "\(prefix)not a Parquet file: \(error)")
        case .encrypted, .unsupported:
            return SluiceError(category: .unsupportedFormat, "\(prefix)a Parquet feature Sluice does not read: \(error)")
        default:
            return SluiceError(category: .parse, "\(prefix)the Parquet file cannot be decoded: \(error)")
        }
    }

    /// The file does not fit the table; the message lists every mismatching column.
    package static func classify(_ error: SchemaMismatchError, file: String? = nil) -> SluiceError {
        let prefix = file.map { "\($0): " } ?? ""
        return SluiceError(category: .schema, "\(prefix)\(error.description)")
    }

    /// A value its column cannot hold.
    package static func classify(_ error: TranscodeValueError, file: String? = nil) -> SluiceError {
        let prefix = file.map { "\($0): " } ?? ""
        return SluiceError(category: .schema, "\(prefix)\(error.description)")
    }

    /// A column the Native encoder refused.
    package static func classify(_ error: NativeEncodingError, file: String? = nil) -> SluiceError {
        let prefix = file.map { "\($0): " } ?? ""
        return SluiceError(category: .schema, "\(prefix)E003 Native encoding failed: \(error)")
    }

    /// Whether a failure concerns the whole batch (the connection, the server, memory): every file is retried
    /// together, keeping the batch's load id. Everything else is a file's own problem.
    package static func isBatchWide(_ error: SluiceError) -> Bool {
        switch error.category {
        case .connection, .network, .timeout, .databaseUnavailable, .memory: true
        default: false
        }
    }
}
