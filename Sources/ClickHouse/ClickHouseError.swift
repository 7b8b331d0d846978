import Foundation

/// A failed ClickHouse request, classified so that the loader knows whether to retry.
///
/// ``description`` names the category, the ClickHouse code and the server's message; it never contains the
/// password (credentials travel only in request headers, which are never part of an error).
public struct ClickHouseError: Error, Sendable, CustomStringConvertible {
    /// What kind of failure this is; decides the retry policy and the pipeline error code.
    public struct Category: Hashable, Sendable, CustomStringConvertible {
        let name: String
        /// The server could not be reached, or the connection broke (refused, reset, timeout, empty reply, TLS).
        public static let connection = Category(name: "connection")
        /// The server is up but cannot take the request now (too many parts or queries, shutting down, 503).
        public static let unavailable = Category(name: "unavailable")
        /// The server ran out of memory for the request.
        public static let memory = Category(name: "memory")
        /// The table, a column, a type or the data does not fit: retrying the same file cannot succeed.
        public static let schema = Category(name: "schema")
        /// Authentication failed or the user lacks a privilege.
        public static let permission = Category(name: "permission")
        /// The server rejected the statement itself (syntax, unknown setting, read-only user): a defect or a
        /// misconfiguration on our side that retrying cannot fix.
        public static let rejected = Category(name: "rejected")
        /// Any other server-side failure; retried a bounded number of times.
        public static let server = Category(name: "server")
        public var description: String { name }
    }

    /// The transport-level failure, when the request did not get a complete ClickHouse response.
    public struct Transport: Hashable, Sendable, CustomStringConvertible {
        let name: String
        /// Nothing listens on the port (ECONNREFUSED).
        public static let refused = Transport(name: "connection refused")
        /// Connecting took longer than the connect timeout.
        public static let connectTimeout = Transport(name: "connect timeout")
        /// No byte arrived within the read timeout (or the request deadline passed).
        public static let readTimeout = Transport(name: "read timeout")
        /// The peer reset the connection (ECONNRESET).
        public static let reset = Transport(name: "connection reset")
        /// The peer closed the connection while the request body was being sent (EPIPE).
        public static let brokenPipe = Transport(name: "broken pipe")
        /// The connection closed before any response byte arrived.
        public static let emptyReply = Transport(name: "empty reply")
        /// The connection closed in the middle of the response.
        public static let truncatedResponse = Transport(name: "truncated response")
        /// The TLS handshake or certificate check failed.
        public static let tls = Transport(name: "TLS failure")
        /// The host name did not resolve.
        public static let dns = Transport(name: "name resolution failure")
        /// Another I/O failure.
        public static let other = Transport(name: "I/O failure")
        public var description: String { name }
    }

    /// The category.
    public var category: Category
    /// The HTTP status, when a response status arrived.
    public var httpStatus: Int?
    /// The ClickHouse error code (`Code: N`), when the server sent one.
    public var serverCode: Int?
    /// The symbolic name that 26.9 adds, such as `UNKNOWN_TABLE`.
    public var serverCodeName: String?
    /// The server's message, or a description of the transport failure (at most 2000 characters).
    public var message: String
    /// The transport failure, when there was one.
    public var transport: Transport?
    /// Whether the server may have executed the statement although the call failed (for example a timeout or a
    /// reset after the whole request was sent, or an exception after a 200 status). Exactly-once logic must then
    /// check the server's state instead of assuming failure.
    public var outcomeUnknown: Bool
    /// The `query_id` of the request.
    public var queryID: String?

    /// Creates an error.
    public init(
        category: Category, httpStatus: Int? = nil, serverCode: Int? = nil, serverCodeName: String? = nil,
        message: String, transport: Transport? = nil, outcomeUnknown: Bool = false, queryID: String? = nil
    ) {
        self.category = category
        self.httpStatus = httpStatus
        self.serverCode = serverCode
        self.serverCodeName = serverCodeName
        self.message = String(message.prefix(2000))
        self.transport = transport
        self.outcomeUnknown = outcomeUnknown
        self.queryID = queryID
    }

    /// The pipeline error code: E003 (schema: no retry), E004 (connection: retry), E005 (unavailable, other server
    /// failures, and the non-retryable permission and rejected statements), E006 (memory: retry).
    public var code: String {
        switch category {
        case .connection: return "E004"
        case .memory: return "E006"
        case .schema: return "E003"
        default: return "E005"
        }
    }

    /// Whether retrying the same request later can succeed.
    public var isRetryable: Bool {
        switch category {
        case .connection, .unavailable, .memory, .server: return true
        default: return false
        }
    }

    public var description: String {
        var parts = ["\(code) ClickHouse \(category) error"]
        if let serverCode {
            parts.append("code \(serverCode)" + (serverCodeName.map { " (\($0))" } ?? ""))
        }
        if let httpStatus { parts.append("HTTP \(httpStatus)") }
        if let transport { parts.append(transport.description) }
        if let queryID { parts.append("query_id \(queryID)") }
        return parts.joined(separator: ", ") + ": " + message
    }
}

// MARK: - Classification

extension ClickHouseError {
    /// ClickHouse codes caused by the table's schema or the data: retrying the same file cannot help.
    static let schemaCodes: Set<Int> = [
        6,  // CANNOT_PARSE_TEXT
        8,  // THERE_IS_NO_COLUMN
        10,  // NOT_FOUND_COLUMN_IN_BLOCK
        16,  // NO_SUCH_COLUMN_IN_TABLE
        20,  // NUMBER_OF_COLUMNS_DOESNT_MATCH
        26,  // CANNOT_PARSE_QUOTED_STRING
        27,  // CANNOT_PARSE_INPUT_ASSERTION_FAILED
        32,  // ATTEMPT_TO_READ_AFTER_EOF
        33,  // CANNOT_READ_ALL_DATA
        38,  // CANNOT_PARSE_DATE
        41,  // CANNOT_PARSE_DATETIME
        44,  // ILLEGAL_COLUMN
        47,  // UNKNOWN_IDENTIFIER
        50,  // UNKNOWN_TYPE
        53,  // TYPE_MISMATCH
        60,  // UNKNOWN_TABLE
        69,  // ARGUMENT_OUT_OF_BOUND
        70,  // CANNOT_CONVERT_TYPE
        72,  // CANNOT_PARSE_NUMBER
        81,  // UNKNOWN_DATABASE
        117,  // INCORRECT_DATA
        128,  // TOO_LARGE_ARRAY_SIZE
        131,  // TOO_LARGE_STRING_SIZE
        190,  // SIZES_OF_ARRAYS_DONT_MATCH
        248,  // INVALID_PARTITION_VALUE
        321,  // VALUE_IS_OUT_OF_RANGE_OF_DATA_TYPE
        368,  // BAD_CAST
        432,  // UNKNOWN_CODEC (an unframed body where a compressed one was declared)
    ]

    /// ClickHouse codes that mean "not now": the server or the cluster is overloaded, shutting down or waiting.
    static let unavailableCodes: Set<Int> = [
        159,  // TIMEOUT_EXCEEDED
        198,  // DNS_ERROR
        201,  // QUOTA_EXCEEDED
        202,  // TOO_MANY_SIMULTANEOUS_QUERIES
        203,  // NO_FREE_CONNECTION
        209,  // SOCKET_TIMEOUT
        210,  // NETWORK_ERROR
        225,  // NO_ZOOKEEPER
        236,  // ABORTED
        242,  // TABLE_IS_READ_ONLY
        243,  // NOT_ENOUGH_SPACE
        252,  // TOO_MANY_PARTS
        279,  // ALL_CONNECTION_TRIES_FAILED
        285,  // TOO_FEW_LIVE_REPLICAS
        286,  // UNSATISFIED_QUORUM_FOR_PREVIOUS_WRITE
        319,  // UNKNOWN_STATUS_OF_INSERT
        373,  // SESSION_IS_LOCKED
        394,  // QUERY_WAS_CANCELLED
        425,  // SYSTEM_ERROR
        439,  // CANNOT_SCHEDULE_TASK
        473,  // DEADLOCK_AVOIDED
        999,  // KEEPER_EXCEPTION
        1000,  // POCO_EXCEPTION
    ]

    /// ClickHouse codes for exhausted memory.
    static let memoryCodes: Set<Int> = [
        173,  // CANNOT_ALLOCATE_MEMORY
        241,  // MEMORY_LIMIT_EXCEEDED
    ]

    /// ClickHouse codes for failed authentication or missing privileges.
    static let permissionCodes: Set<Int> = [
        164,  // READONLY
        192,  // UNKNOWN_USER
        193,  // WRONG_PASSWORD
        195,  // IP_ADDRESS_NOT_ALLOWED
        291,  // DATABASE_ACCESS_DENIED
        497,  // ACCESS_DENIED
        516,  // AUTHENTICATION_FAILED
    ]

    /// ClickHouse codes for a statement the server refuses as written.
    static let rejectedCodes: Set<Int> = [
        1,  // UNSUPPORTED_METHOD
        36,  // BAD_ARGUMENTS
        42,  // NUMBER_OF_ARGUMENTS_DOESNT_MATCH
        46,  // UNKNOWN_FUNCTION
        48,  // NOT_IMPLEMENTED
        57,  // TABLE_ALREADY_EXISTS
        62,  // SYNTAX_ERROR
        73,  // UNKNOWN_FORMAT
        89,  // UNKNOWN_COMPRESSION_METHOD
        115,  // UNKNOWN_SETTING
    ]

    /// The category of a ClickHouse code together with the HTTP status it came with.
    public static func category(serverCode: Int?, httpStatus: Int?) -> Category {
        if let code = serverCode {
            if memoryCodes.contains(code) { return .memory }
            if permissionCodes.contains(code) { return .permission }
            if schemaCodes.contains(code) { return .schema }
            if unavailableCodes.contains(code) { return .unavailable }
            if rejectedCodes.contains(code) { return .rejected }
        }
        switch httpStatus {
        case 401?, 403?: return .permission
        case 502?, 503?, 504?, 429?: return .unavailable
        case 408?: return .connection
        default: return .server
        }
    }

    /// Classifies a complete HTTP response that is an error (status >= 300, or an exception inside a 200 body).
    ///
    /// - Parameters:
    ///   - status: the HTTP status.
    ///   - exceptionCodeHeader: the `X-ClickHouse-Exception-Code` header (26.9 sends it; 18.16 does not).
    ///   - body: the response body, or its last part for a large one.
    public static func fromResponse(status: Int, exceptionCodeHeader: String?, body: some Collection<UInt8>, queryID: String?) -> ClickHouseError {
        let parsed = ServerExceptionText(body)
        let headerCode = exceptionCodeHeader.flatMap { Int($0.trimmingSpaces()) }
        let code = headerCode ?? parsed?.code
        let message: String
        if let parsed {
            message = parsed.message
        } else {
            let text = String(decoding: body.prefix(2000), as: UTF8.self).trimmingSpaces()
            message = text.isEmpty ? "HTTP \(status) without a message" : text
        }
        return ClickHouseError(
            category: category(serverCode: code, httpStatus: status),
            httpStatus: status, serverCode: code, serverCodeName: parsed?.name,
            message: message, outcomeUnknown: status == 200, queryID: queryID)
    }
}

/// A ClickHouse exception text, in either server's format:
///
/// * 18.16: `Code: 60, e.displayText() = DB::Exception: Table db.t doesn't exist., e.what() = DB::Exception`
/// * 26.9: `Code: 60. DB::Exception: Table db.t does not exist. (UNKNOWN_TABLE) (version 26.9.2.1)`
///
/// Inside a 200 response the text may follow data: 26.9 frames it with `__exception__` lines, 18.16 appends it
/// on a new line. The last exception in the text is taken.
struct ServerExceptionText: Hashable, Sendable {
    var code: Int
    var name: String?
    var message: String

    init?(_ body: some Collection<UInt8>) {
        let bytes = Array(body.suffix(65536))
        // The last "Code: N" that starts a line, followed by "." or ",".
        var found: (start: Int, code: Int, end: Int)?
        let marker = Array("Code: ".utf8)
        var i = 0
        while i + marker.count < bytes.count {
            if (i == 0 || bytes[i - 1] == 0x0A), bytes[i..<(i + marker.count)].elementsEqual(marker) {
                var j = i + marker.count
                var value = 0
                var digits = 0
                while j < bytes.count, bytes[j] >= 0x30, bytes[j] <= 0x39, digits < 9 {
                    value = value * 10 + Int(bytes[j] - 0x30)
                    j += 1
                    digits += 1
                }
                if digits > 0, j + 1 < bytes.count, bytes[j] == 0x2E || bytes[j] == 0x2C, bytes[j + 1] == 0x20 {
                    found = (i, value, j + 2)
                }
            }
            i += 1
        }
        guard let found else { return nil }
        var lineEnd = found.end
        while lineEnd < bytes.count, bytes[lineEnd] != 0x0A { lineEnd += 1 }
        var text = String(decoding: bytes[found.end..<lineEnd], as: UTF8.self)
        code = found.code
        // 18.16: "e.displayText() = DB::Exception: message, e.what() = DB::Exception"
        if text.hasPrefix("e.displayText() = ") { text.removeFirst("e.displayText() = ".count) }
        if let range = text.range(of: ", e.what() = ", options: .backwards) { text = String(text[..<range.lowerBound]) }
        if text.hasPrefix("DB::Exception: ") { text.removeFirst("DB::Exception: ".count) }
        // 26.9: "message. (NAME) (version x)"
        if let range = text.range(of: " (version ", options: .backwards), text.hasSuffix(")") {
            text = String(text[..<range.lowerBound])
        }
        name = nil
        if text.hasSuffix(")"), let open = text.range(of: " (", options: .backwards) {
            let candidate = text[open.upperBound..<text.index(before: text.endIndex)]
            if !candidate.isEmpty, candidate.allSatisfy({ $0.isUppercase || $0 == "_" || $0.isNumber }) {
                name = String(candidate)
                text = String(text[..<open.lowerBound])
                if text.hasSuffix(".") { text.removeLast() }
            }
        }
        message = text.trimmingSpaces()
    }
}

extension StringProtocol {
    func trimmingSpaces() -> String {
        var scalars = Substring(self).unicodeScalars[...]
        while let first = scalars.first, first == " " || first == "\n" || first == "\r" || first == "\t" { scalars.removeFirst() }
        while let last = scalars.last, last == " " || last == "\n" || last == "\r" || last == "\t" { scalars.removeLast() }
        return String(String.UnicodeScalarView(scalars))
    }
}
