import AsyncHTTPClient
import Foundation
public import Logging
public import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import Synchronization

/// A ClickHouse server reached over its HTTP interface.
///
/// * Credentials travel only in the `X-ClickHouse-User` / `X-ClickHouse-Key` headers; they never appear in a URL, a
///   log line or an error.
/// * Pooled connections are closed after ``ClickHouseConfiguration/poolIdleTimeout`` (below 18.16's 3 s keep-alive).
/// * Request bodies stream from an `AsyncSequence` or a writer closure; nothing buffers a whole file.
/// * Every failure is a ``ClickHouseError`` with a category (except errors thrown by a caller's body source, which
///   are rethrown unchanged).
///
/// Call ``shutdown()`` before dropping the last reference.
public final class ClickHouseClient: Sendable {
    /// The configuration (its description redacts the password).
    public let configuration: ClickHouseConfiguration
    let http: HTTPClient
    let logger: Logger
    let cache = Mutex(Cache())
    let observer: RequestObserver?

    /// Called once per request with its operation (`query`, `execute`, `insert`, `ping`), its outcome (`ok` or the
    /// error's category name) and how long it took, for metrics. It must not block.
    public typealias RequestObserver = @Sendable (_ operation: String, _ outcome: String, _ duration: Duration) -> Void

    struct Cache {
        var capabilities: ServerCapabilities?
        var schemas: [TableName: TableSchema] = [:]
    }

    /// The largest response body kept in memory for ``query(_:settings:queryID:)``.
    public static let maximumResponseBytes = 64 << 20

    /// Creates a client with its own connection pool, on `eventLoopGroup` or the shared default group.
    public init(
        configuration: ClickHouseConfiguration, logger: Logger, eventLoopGroup: (any EventLoopGroup)? = nil,
        observer: RequestObserver? = nil
    ) {
        self.configuration = configuration
        self.logger = logger
        self.observer = observer
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.minimumTLSVersion = .tlsv12
        tls.certificateVerification = configuration.tlsVerify ? .fullVerification : .none
        var pool = HTTPClient.Configuration.ConnectionPool(
            idleTimeout: .nanoseconds(Int64(configuration.poolIdleTimeout.nanoseconds)),
            concurrentHTTP1ConnectionsPerHostSoftLimit: configuration.maxConnections)
        // Fail fast on refused connections; the loader's retry policy owns retries and backoff.
        pool.retryConnectionEstablishment = false
        var http = HTTPClient.Configuration(
            tlsConfiguration: tls,
            redirectConfiguration: .disallow,
            timeout: .init(
                connect: .nanoseconds(Int64(configuration.connectTimeout.nanoseconds)),
                read: .nanoseconds(Int64(configuration.readTimeout.nanoseconds))),
            connectionPool: pool,
            decompression: .disabled)
        http.httpVersion = .http1Only
        self.http = HTTPClient(eventLoopGroup: eventLoopGroup ?? HTTPClient.defaultEventLoopGroup, configuration: http, backgroundActivityLogger: logger)
    }

    /// Closes the pooled connections.
    public func shutdown() async throws {
        try await http.shutdown()
    }

    // MARK: Statements

    /// Runs a statement that returns no rows (DDL, ALTER, SYSTEM, INSERT ... SELECT).
    ///
    /// The server buffers the whole result (`wait_end_of_query=1`) so that a failure always arrives as an error
    /// status rather than inside a 200 stream.
    public func execute(_ sql: String, settings: [String: String] = [:], queryID: String? = nil) async throws(ClickHouseError) {
        _ = try await send(
            operation: "execute", urlQuery: nil, body: .bytes(ByteBuffer(string: sql)), settings: ["wait_end_of_query": "1"].merging(settings) { $1 },
            queryID: queryID, maxResponseBytes: Self.maximumResponseBytes)
    }

    /// Runs a query and returns its rows as TabSeparated fields (the query must not name a format).
    public func query(_ sql: String, settings: [String: String] = [:], queryID: String? = nil) async throws(ClickHouseError) -> [[String]] {
        let response = try await send(
            operation: "query", urlQuery: nil, body: .bytes(ByteBuffer(string: sql + "\nFORMAT TabSeparated")),
            settings: ["wait_end_of_query": "1"].merging(settings) { $1 }, queryID: queryID,
            maxResponseBytes: Self.maximumResponseBytes)
        return TabSeparated.rows(response.body)
    }

    /// Answers whether `/ping` says `Ok.`.
    public func ping() async throws(ClickHouseError) {
        let response = try await send(
            operation: "ping", path: "ping", urlQuery: nil, method: .GET, body: nil, settings: [:], queryID: nil, maxResponseBytes: 1024)
        guard String(decoding: response.body, as: UTF8.self).hasPrefix("Ok.") else {
            throw ClickHouseError(category: .server, httpStatus: response.status, message: "unexpected /ping answer")
        }
    }

    // MARK: Inserts

    /// What the server reported about an insert.
    public struct InsertResult: Sendable, Hashable {
        /// Rows written, from `X-ClickHouse-Summary` when the server sends it (26.9; 18.16 does not).
        public var writtenRows: Int?
        /// The `query_id` the server ran the insert under.
        public var queryID: String?
    }

    /// Inserts a streamed body: `statement` is for example `INSERT INTO db.t (a, b) FORMAT Native` and `body` yields
    /// the encoded data piece by piece. The body is pulled only as fast as the connection sends it.
    ///
    /// - Throws: ``ClickHouseError``, or the error that `body` threw (unchanged).
    @discardableResult
    public func insert<Body: AsyncSequence & Sendable>(
        _ statement: String, body: Body, settings: [String: String] = [:], queryID: String? = nil
    ) async throws -> InsertResult where Body.Element == ByteBuffer {
        let source = BodySource(body)
        do {
            let response = try await send(
                operation: "insert", urlQuery: statement, body: .stream(source, length: .unknown), settings: settings, queryID: queryID,
                maxResponseBytes: 1 << 20)
            return InsertResult(writtenRows: response.writtenRows, queryID: response.queryID ?? queryID)
        } catch {
            if let sourceError = source.failure { throw sourceError }
            throw error
        }
    }

    /// Inserts a body produced by `writer` while the request is in flight (see ``ClickHouseBodyWriter``).
    ///
    /// - Throws: ``ClickHouseError``, or the error that `writer` threw (unchanged).
    @discardableResult
    public func insert(
        _ statement: String, settings: [String: String] = [:], queryID: String? = nil,
        writer: @escaping @Sendable (ClickHouseBodyWriter) async throws -> Void
    ) async throws -> InsertResult {
        let pipe = BodyPipe()
        return try await withThrowingTaskGroup(of: InsertResult?.self) { group in
            group.addTask {
                do {
                    try await writer(ClickHouseBodyWriter(pipe: pipe))
                    pipe.finish()
                } catch {
                    pipe.finish(error: error)
                    if !(error is ClickHouseBodyWriterClosed) { throw error }
                }
                return nil
            }
            group.addTask {
                defer { pipe.close() }
                return try await self.insert(statement, body: pipe, settings: settings, queryID: queryID)
            }
            var result: InsertResult?
            do {
                while let next = try await group.next() {
                    if let next { result = next }
                }
            } catch {
                group.cancelAll()
                throw error
            }
            guard let result else {
                throw ClickHouseError(category: .server, message: "the insert ended without a response", outcomeUnknown: true, queryID: queryID)
            }
            return result
        }
    }

    // MARK: Transport

    struct Response: Sendable {
        var status: Int
        var body: [UInt8]
        var queryID: String?
        var writtenRows: Int?
    }

    /// Sends one request and returns the complete response of a successful one.
    func send(
        operation: String, path: String = "", urlQuery: String?, method: HTTPMethod = .POST, body: HTTPClientRequest.Body?,
        settings: [String: String], queryID: String?, maxResponseBytes: Int
    ) async throws(ClickHouseError) -> Response {
        let started = ContinuousClock.now
        do {
            let response = try await exchange(
                path: path, urlQuery: urlQuery, method: method, body: body, settings: settings, queryID: queryID,
                maxResponseBytes: maxResponseBytes)
            observer?(operation, "ok", ContinuousClock.now - started)
            return response
        } catch {
            observer?(operation, error.category.description, ContinuousClock.now - started)
            throw error
        }
    }

    private func exchange(
        path: String, urlQuery: String?, method: HTTPMethod, body: HTTPClientRequest.Body?,
        settings: [String: String], queryID: String?, maxResponseBytes: Int
    ) async throws(ClickHouseError) -> Response {
        var parameters = configuration.settings.merging(settings) { $1 }
        if let urlQuery { parameters["query"] = urlQuery }
        if let queryID { parameters["query_id"] = queryID }
        var url = configuration.endpoint.baseURL
        if !path.isEmpty { url += (url.hasSuffix("/") ? "" : "/") + path }
        if !parameters.isEmpty {
            url += "?" + parameters.sorted { $0.key < $1.key }.map { "\(Self.percentEncode($0.key))=\(Self.percentEncode($0.value))" }.joined(separator: "&")
        }
        var request = HTTPClientRequest(url: url)
        request.method = method
        request.headers.add(name: "X-ClickHouse-User", value: configuration.user)
        if !configuration.password.isEmpty { request.headers.add(name: "X-ClickHouse-Key", value: configuration.password) }
        request.body = body

        var metadata: Logger.Metadata = ["clickhouse_host": "\(configuration.endpoint.host)"]
        if let queryID { metadata["query_id"] = "\(queryID)" }
        let started = ContinuousClock.now
        let response: HTTPClientResponse
        do {
            response = try await http.execute(request, deadline: .distantFuture, logger: logger)
        } catch {
            let classified = Self.classifyTransport(error, queryID: queryID, responseStarted: false)
            logger.debug("clickhouse request failed", metadata: metadata.merging(["error": "\(classified)"]) { $1 })
            throw classified
        }
        let status = Int(response.status.code)
        let exceptionHeader = response.headers.first(name: "X-ClickHouse-Exception-Code")
        var collected: [UInt8] = []
        var truncatedAt: Int?
        do {
            for try await var chunk in response.body {
                if collected.count + chunk.readableBytes > maxResponseBytes {
                    // Keep reading (so the connection can be reused) but only the start and the tail matter.
                    truncatedAt = truncatedAt ?? collected.count
                    let keep = min(chunk.readableBytes, 65536)
                    chunk.moveReaderIndex(forwardBy: chunk.readableBytes - keep)
                    collected.removeFirst(min(collected.count, max(0, collected.count + keep - maxResponseBytes)))
                }
                collected.append(contentsOf: chunk.readableBytesView)
            }
        } catch {
            // The connection broke mid-response. An exception the server streamed before closing wins (26.9 aborts
            // the chunked stream right after its `__exception__` trailer).
            if ServerExceptionText(collected) != nil {
                throw ClickHouseError.fromResponse(status: status, exceptionCodeHeader: exceptionHeader, body: collected, queryID: queryID)
            }
            throw Self.classifyTransport(error, queryID: queryID, responseStarted: true)
        }
        let elapsed = ContinuousClock.now - started
        metadata["status"] = "\(status)"
        metadata["duration_ms"] = "\(elapsed.milliseconds)"
        if status >= 300 || exceptionHeader != nil || Self.hasStreamedException(collected) {
            let error = ClickHouseError.fromResponse(status: status, exceptionCodeHeader: exceptionHeader, body: collected, queryID: queryID)
            logger.debug("clickhouse request failed", metadata: metadata.merging(["error": "\(error)"]) { $1 })
            throw error
        }
        if truncatedAt != nil {
            throw ClickHouseError(category: .server, httpStatus: status, message: "response larger than \(maxResponseBytes) bytes", queryID: queryID)
        }
        logger.trace("clickhouse request done", metadata: metadata)
        return Response(
            status: status, body: collected, queryID: response.headers.first(name: "X-ClickHouse-Query-Id"),
            writtenRows: response.headers.first(name: "X-ClickHouse-Summary").flatMap(Self.writtenRows))
    }

    /// Whether a 200 body ends with an exception the server wrote after the data had started
    /// (26.9: an `__exception__` trailer; 18.16: a last line `Code: N, e.displayText() = ...`).
    static func hasStreamedException(_ body: [UInt8]) -> Bool {
        guard !body.isEmpty else { return false }
        let tail = String(decoding: body.suffix(4096), as: UTF8.self)
        if tail.contains("__exception__") { return true }
        guard let lastLine = tail.split(separator: "\n", omittingEmptySubsequences: true).last else { return false }
        return lastLine.hasPrefix("Code: ") && lastLine.contains(", e.displayText() = ")
    }

    static func writtenRows(_ summary: String) -> Int? {
        guard let range = summary.range(of: "\"written_rows\":\"") else { return nil }
        return Int(summary[range.upperBound...].prefix { $0.isNumber })
    }

    static func percentEncode(_ text: String) -> String {
        var out = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: "~"):
                out.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                let hex = Array("0123456789ABCDEF".unicodeScalars)
                out.unicodeScalars.append("%")
                out.unicodeScalars.append(hex[Int(byte >> 4)])
                out.unicodeScalars.append(hex[Int(byte & 15)])
            }
        }
        return out
    }

    /// Maps a failure below HTTP to a connection error, noting whether the server may have run the statement.
    static func classifyTransport(_ error: any Error, queryID: String?, responseStarted: Bool) -> ClickHouseError {
        if let error = error as? ClickHouseError { return error }
        func make(_ transport: ClickHouseError.Transport, unknown: Bool) -> ClickHouseError {
            ClickHouseError(
                category: .connection, message: "\(transport): \(String(describing: error).prefix(300))",
                transport: transport, outcomeUnknown: unknown, queryID: queryID)
        }
        if let error = error as? HTTPClientError {
            switch error {
            case .connectTimeout, .tlsHandshakeTimeout, .getConnectionFromPoolTimeout: return make(.connectTimeout, unknown: false)
            case .readTimeout, .deadlineExceeded, .writeTimeout: return make(.readTimeout, unknown: true)
            case .remoteConnectionClosed: return make(responseStarted ? .truncatedResponse : .emptyReply, unknown: true)
            case .cancelled, .requestStreamCancelled: return make(.other, unknown: true)
            default: return make(.other, unknown: true)
            }
        }
        if let error = error as? NIOConnectionError {
            if error.dnsAError != nil || error.dnsAAAAError != nil, error.connectionErrors.isEmpty { return make(.dns, unknown: false) }
            for attempt in error.connectionErrors {
                if let io = attempt.error as? IOError, io.errnoCode == ECONNREFUSED { return make(.refused, unknown: false) }
            }
            return make(.other, unknown: false)
        }
        if let error = error as? IOError {
            switch error.errnoCode {
            case ECONNREFUSED: return make(.refused, unknown: false)
            case ECONNRESET: return make(responseStarted ? .truncatedResponse : .reset, unknown: true)
            case EPIPE: return make(.brokenPipe, unknown: true)
            case ETIMEDOUT: return make(.readTimeout, unknown: true)
            default: return make(.other, unknown: true)
            }
        }
        if error is NIOSSLError || error is NIOSSLExtraError { return make(.tls, unknown: false) }
        if let error = error as? ChannelError {
            switch error {
            case .connectTimeout: return make(.connectTimeout, unknown: false)
            case .eof, .ioOnClosedChannel, .alreadyClosed, .outputClosed: return make(responseStarted ? .truncatedResponse : .emptyReply, unknown: true)
            default: return make(.other, unknown: true)
            }
        }
        if error is CancellationError { return make(.other, unknown: true) }
        return make(.other, unknown: true)
    }
}

/// Wraps a caller's body sequence, remembering its own failure so that it is rethrown unchanged.
final class BodySource<Base: AsyncSequence & Sendable>: AsyncSequence, Sendable where Base.Element == ByteBuffer {
    typealias Element = ByteBuffer
    let base: Base
    let recorded = Mutex<(any Error)?>(nil)

    init(_ base: Base) { self.base = base }

    var failure: (any Error)? { recorded.withLock { $0 } }

    struct AsyncIterator: AsyncIteratorProtocol {
        var iterator: Base.AsyncIterator
        let owner: BodySource

        mutating func next() async throws -> ByteBuffer? {
            do {
                return try await iterator.next()
            } catch {
                owner.recorded.withLock { $0 = error }
                throw error
            }
        }
    }

    func makeAsyncIterator() -> AsyncIterator { AsyncIterator(iterator: base.makeAsyncIterator(), owner: self) }
}

extension Duration {
    var nanoseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }

    var milliseconds: Int64 { nanoseconds / 1_000_000 }
}

/// The TabSeparated output format: rows split by `\n`, fields by `\t`, with backslash escapes.
enum TabSeparated {
    static func rows(_ body: [UInt8]) -> [[String]] {
        var rows: [[String]] = []
        var row: [String] = []
        var field: [UInt8] = []
        var index = 0
        var any = false
        while index < body.count {
            let byte = body[index]
            index += 1
            switch byte {
            case 0x09:
                row.append(String(decoding: field, as: UTF8.self))
                field.removeAll(keepingCapacity: true)
                any = true
            case 0x0A:
                row.append(String(decoding: field, as: UTF8.self))
                rows.append(row)
                row = []
                field.removeAll(keepingCapacity: true)
                any = false
            case 0x5C where index < body.count:
                let escaped = body[index]
                index += 1
                switch escaped {
                case 0x6E: field.append(0x0A)
                case 0x74: field.append(0x09)
                case 0x72: field.append(0x0D)
                case 0x30: field.append(0x00)
                case 0x62: field.append(0x08)
                case 0x66: field.append(0x0C)
                case 0x4E: field.append(contentsOf: Array("\\N".utf8))  // NULL stays visible as \N
                default: field.append(escaped)
                }
                any = true
            default:
                field.append(byte)
                any = true
            }
        }
        if any || !field.isEmpty {
            row.append(String(decoding: field, as: UTF8.self))
            rows.append(row)
        }
        return rows
    }
}
