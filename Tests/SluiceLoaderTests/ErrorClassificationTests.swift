import AWS
import ClickHouse
import ClickHouseNative
import Parquet
import ParquetClickHouse
import SluiceCore
import SluiceLoader
import Testing

/// Every library error the loader meets becomes the right `SluiceError`: the category decides the retry policy
/// (connection/network/timeout: E004, 3 attempts; databaseUnavailable: E005; memory: E006, 2 attempts; schema,
/// permission, parse, unsupportedFormat, notFound: no retry).
@Suite("Error classification")
struct ErrorClassificationTests {
    func aws(_ code: String, status: Int?, category: AWSError.Category, operation: String = "GetObject") -> AWSError {
        AWSError(
            code: code, httpStatus: status, category: category, requestID: "REQ1", message: "details", service: "s3", operation: operation,
            resource: "s3://bucket/market/t/a.parquet")
    }

    @Test(arguments: [
        ("NetworkError", nil, AWSError.Category.retryable, FailureCategory.network, ErrorCode.connection),
        ("SlowDown", 503, .throttled, .network, .connection),
        ("InternalError", 500, .retryable, .network, .connection),
        ("RequestTimeout", 400, .retryable, .timeout, .connection),
        ("NoSuchKey", 404, .permanent, .notFound, .parseFailure),
        ("NoSuchBucket", 404, .permanent, .notFound, .parseFailure),
        ("NoSuchVersion", 404, .permanent, .notFound, .parseFailure),
        ("PreconditionFailed", 412, .permanent, .notFound, .parseFailure),
        ("AccessDenied", 403, .permanent, .permission, .parseFailure),
        ("InvalidAccessKeyId", 403, .permanent, .permission, .parseFailure),
        ("CredentialsNotFound", nil, .permanent, .permission, .parseFailure),
        ("CredentialsUnavailable", nil, .retryable, .network, .connection),
        ("ObjectTooLarge", nil, .permanent, .unsupportedFormat, .unsupportedFormat),
        ("InvalidObjectKey", nil, .permanent, .invalidInput, .invalidEvent),
        ("InvalidBucketName", nil, .permanent, .invalidInput, .invalidEvent),
        ("InvalidRange", 416, .permanent, .parse, .parseFailure),
        ("InvalidObjectState", 400, .permanent, .unsupportedFormat, .unsupportedFormat),
    ] as [(String, Int?, AWSError.Category, FailureCategory, ErrorCode)])
    func awsErrors(code: String, status: Int?, awsCategory: AWSError.Category, category: FailureCategory, expected: ErrorCode) {
        let error = LoadErrorClassification.classify(aws(code, status: status, category: awsCategory))
        #expect(error.category == category, "\(code)")
        #expect(error.code == expected, "\(code)")
        #expect(error.message.contains(code), "the message names AWS's code: \(error.message)")
        if code != "CredentialsNotFound" && code != "CredentialsUnavailable" {
            #expect(error.message.contains("s3://bucket/market/t/a.parquet"), "the message names the object")
        }
    }

    @Test func oversizeNamesTheSettingToRaise() {
        let error = LoadErrorClassification.classify(aws("ObjectTooLarge", status: nil, category: .permanent, operation: "HeadObject"))
        #expect(error.message.contains("s3.max_object_bytes"))
        #expect(error.description.hasPrefix("E002: "))
    }

    /// Real response bodies of both servers, through the ClickHouse client's own parser.
    @Test(arguments: [
        ("Code: 241, e.displayText() = DB::Exception: Memory limit (for query) exceeded: would use 9.32 GiB, e.what() = DB::Exception", 500,
         FailureCategory.memory, ErrorCode.memory),
        ("Code: 241. DB::Exception: Memory limit (total) exceeded: would use 3.73 GiB. (MEMORY_LIMIT_EXCEEDED) (version 26.9.2.1)", 500,
         .memory, .memory),
        ("Code: 60, e.displayText() = DB::Exception: Table db.t doesn't exist., e.what() = DB::Exception", 404, .schema, .parseFailure),
        ("Code: 60. DB::Exception: Table db.t does not exist. (UNKNOWN_TABLE) (version 26.9.2.1)", 404, .schema, .parseFailure),
        ("Code: 53. DB::Exception: Type mismatch in VALUES section. (TYPE_MISMATCH) (version 26.9.2.1)", 400, .schema, .parseFailure),
        ("Code: 252. DB::Exception: Too many parts (300). (TOO_MANY_PARTS) (version 26.9.2.1)", 500, .databaseUnavailable,
         .databaseUnavailable),
        ("Code: 202, e.displayText() = DB::Exception: Too many simultaneous queries. Maximum: 100, e.what() = DB::Exception", 500,
         .databaseUnavailable, .databaseUnavailable),
        ("Code: 516. DB::Exception: default: Authentication failed. (AUTHENTICATION_FAILED) (version 26.9.2.1)", 401, .permission,
         .databaseUnavailable),
        ("Code: 193, e.displayText() = DB::Exception: Wrong password for user default, e.what() = DB::Exception", 500, .permission,
         .databaseUnavailable),
        ("Code: 497. DB::Exception: writer: Not enough privileges. (ACCESS_DENIED) (version 26.9.2.1)", 403, .permission,
         .databaseUnavailable),
        ("Code: 62. DB::Exception: Syntax error: failed at position 1. (SYNTAX_ERROR) (version 26.9.2.1)", 400, .schema,
         .databaseUnavailable),
        ("Code: 999999. DB::Exception: Something new. (SOMETHING_NEW) (version 26.9.2.1)", 500, .databaseUnavailable,
         .databaseUnavailable),
        ("Service Unavailable", 503, .databaseUnavailable, .databaseUnavailable),
    ] as [(String, Int, FailureCategory, ErrorCode)])
    func clickhouseResponses(body: String, status: Int, category: FailureCategory, code: ErrorCode) {
        let response = ClickHouseError.fromResponse(status: status, exceptionCodeHeader: nil, body: Array(body.utf8), queryID: "q1")
        let error = LoadErrorClassification.classify(response)
        #expect(error.category == category, "\(body)")
        #expect(error.code == code, "\(body)")
        #expect(error.message.hasPrefix("ClickHouse: "))
    }

    @Test func clickhouseTransportFailures() {
        let refused = ClickHouseError(category: .connection, message: "connection refused", transport: .refused)
        #expect(LoadErrorClassification.classify(refused).category == .connection)
        #expect(LoadErrorClassification.classify(refused).code == .connection)
        let reset = ClickHouseError(category: .connection, message: "reset", transport: .reset, outcomeUnknown: true)
        #expect(LoadErrorClassification.classify(reset).category == .connection)
        let slow = ClickHouseError(category: .connection, message: "read timeout", transport: .readTimeout, outcomeUnknown: true)
        #expect(LoadErrorClassification.classify(slow).category == .timeout)
        #expect(LoadErrorClassification.classify(slow).code == .connection)
    }

    @Test(arguments: [
        (ParquetError.Category.notParquet, FailureCategory.unsupportedFormat, ErrorCode.unsupportedFormat),
        (.encrypted, .unsupportedFormat, .unsupportedFormat),
        (.unsupported, .unsupportedFormat, .unsupportedFormat),
        (.corrupt, .parse, .parseFailure),
        (.resourceLimit, .parse, .parseFailure),
        (.io, .parse, .parseFailure),
    ] as [(ParquetError.Category, FailureCategory, ErrorCode)])
    func parquetErrors(parquet: ParquetError.Category, category: FailureCategory, code: ErrorCode) {
        let source = ParquetError(parquet, "what went wrong", rowGroup: 1, columnPath: "a.b", pageIndex: 2, byteOffset: 1234)
        let error = LoadErrorClassification.classify(source, file: "s3://b/k.parquet")
        #expect(error.category == category)
        #expect(error.code == code)
        #expect(error.message.hasPrefix("s3://b/k.parquet: "))
        #expect(error.message.contains("row group 1, column a.b, page 2, byte offset 1234"))
    }

    /// The reader turns a failed read into its own `io` error; the byte source's failure decides instead.
    @Test func aFailedReadIsClassifiedByTheSourcesOwnError() {
        let io = ParquetError(.io, "reading 8 bytes at offset 0 failed")
        let network = aws("NetworkError", status: nil, category: .retryable)
        #expect(LoadErrorClassification.classifyRead(io, sourceFailure: network).category == .network)
        let replaced = aws("PreconditionFailed", status: 412, category: .permanent)
        #expect(LoadErrorClassification.classifyRead(io, sourceFailure: replaced).category == .notFound)
        #expect(LoadErrorClassification.classifyRead(io, sourceFailure: nil).category == .parse)
        let corrupt = ParquetError(.corrupt, "bad page")
        #expect(LoadErrorClassification.classifyRead(corrupt, sourceFailure: network).category == .parse)
    }

    @Test func aSchemaMismatchListsEveryColumn() async throws {
        let file = try await ParquetFile.open(path: Fixtures.path("mismatch.parquet"))
        let table = [
            TargetColumn(name: "id", typeName: "Int64"), TargetColumn(name: "v", typeName: "Int64"), TargetColumn(name: "s", typeName: "String"),
        ]
        do {
            _ = try TranscodePlan(parquet: file.schema, table: table)
            Issue.record("the file does not fit")
        } catch {
            let classified = LoadErrorClassification.classify(error, file: "s3://b/mismatch.parquet")
            #expect(classified.category == .schema)
            #expect(classified.code == .parseFailure)
            #expect(classified.message.contains("id (Parquet BYTE_ARRAY"), "\(classified.message)")
            #expect(classified.message.contains("v (Parquet - -> ClickHouse Int64)"), "\(classified.message)")
        }
    }

    @Test func aValueTheColumnCannotHoldNamesColumnAndRowGroup() async throws {
        let file = try await ParquetFile.open(path: Fixtures.path("null_in_v.parquet"))
        let plan = try TranscodePlan(
            parquet: file.schema,
            table: [TargetColumn(name: "id", typeName: "Int64"), TargetColumn(name: "v", typeName: "Int64"), TargetColumn(name: "s", typeName: "String")])
        let transcoder = ParquetNativeTranscoder(plan: plan)
        _ = try await transcoder.transcode(rowGroup: 0, rowCount: 5) { try await file.readColumn(rowGroup: 0, column: $0) }
        do {
            _ = try await transcoder.transcode(rowGroup: 1, rowCount: 5) { try await file.readColumn(rowGroup: 1, column: $0) }
            Issue.record("row group 1 has a NULL in v")
        } catch {
            let classified = LoadErrorClassification.classify(error)
            #expect(classified.category == .schema)
            #expect(classified.code == .parseFailure)
            #expect(classified.message.contains("column v, row group 1"), "\(classified.message)")
        }
    }

    @Test func otherErrors() {
        let native = LoadErrorClassification.classify(NativeEncodingError(column: "c", reason: "too long"))
        #expect(native.category == .schema)
        #expect(LoadErrorClassification.classify(CancellationError()).category == .timeout)
        struct Strange: Error {}
        #expect(LoadErrorClassification.classify(Strange()).category == .databaseUnavailable)
        let own = SluiceError(category: .memory, "kept as it is")
        #expect(LoadErrorClassification.classify(own) == own)
        let configuration = ClickHouseConfigurationError(key: "clickhouse.url", reason: "must start with http://")
        #expect(LoadErrorClassification.classify(configuration).category == .permission)
    }

    @Test func batchWideCategories() {
        let wide: [FailureCategory] = [.connection, .network, .timeout, .databaseUnavailable, .memory]
        for category in FailureCategory.allCases {
            #expect(LoadErrorClassification.isBatchWide(SluiceError(category: category, "x")) == wide.contains(category), "\(category)")
        }
    }
}
