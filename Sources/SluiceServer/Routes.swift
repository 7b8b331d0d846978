import EventPattern
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import SluiceCore
import SluiceIntake
import SluiceJournal
import SluiceMetrics

/// The HTTP API: routes, their templates (for metrics and 405 answers) and JSON rendering.
enum Routes {
    static let correlationHeader = HTTPField.Name("X-Correlation-ID")!

    /// Every route template and the methods it answers.
    static let methods: [String: [String]] = [
        "/v1/events": ["POST"],
        "/v1/messages": ["POST"],
        "/v1/loads": ["GET", "POST"],
        "/v1/loads/{correlation_id}": ["GET"],
        "/v1/dlq": ["GET"],
        "/v1/dlq/replay": ["POST"],
        "/v1/dlq/{id}": ["GET", "DELETE"],
        "/v1/dlq/{id}/replay": ["POST"],
        "/health": ["GET", "HEAD"],
        "/ready": ["GET", "HEAD"],
        "/metrics": ["GET"],
    ]

    /// The template a path belongs to, or `nil`.
    static func template(for path: String) -> String? {
        if methods[path] != nil { return path }
        let parts = path.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count >= 4, parts[0].isEmpty, parts[1] == "v1", parts.allSatisfy({ !$0.isEmpty || $0.startIndex == path.startIndex }) else { return nil }
        switch (parts[2], parts.count) {
        case ("loads", 4): return "/v1/loads/{correlation_id}"
        case ("dlq", 4): return "/v1/dlq/{id}"
        case ("dlq", 5) where parts[4] == "replay": return "/v1/dlq/{id}/replay"
        default: return nil
        }
    }

    static func json(_ body: JSONValue, status: Int, correlationID: String?, retryAfter: Int? = nil, extra: HTTPFields = [:]) -> Response {
        var headers = extra
        headers[.contentType] = "application/json"
        if let correlationID { headers[correlationHeader] = correlationID }
        if let retryAfter { headers[.retryAfter] = String(retryAfter) }
        var buffer = ByteBuffer()
        buffer.writeString(body.serialized())
        buffer.writeString("\n")
        return Response(status: HTTPResponse.Status(code: status), headers: headers, body: .init(byteBuffer: buffer))
    }
}

/// A dependency `/ready` checks (ClickHouse, S3).
public protocol ReadinessCheck: Sendable {
    /// The name in `/ready`'s `checks`.
    var name: String { get }
    /// `nil` when ready, else why not (never containing a secret).
    func check() async -> String?
}

/// Everything the routes need.
struct RouteDependencies: Sendable {
    let intake: IntakeHandler
    let intakeRules: Intake
    let readinessChecks: [any ReadinessCheck]
    let onQueued: @Sendable () -> Void
    let journal: Journal
    let metrics: SluiceMetrics
    let configuration: ServerConfiguration
    let domains: [DomainConfiguration]
    let gate: DrainGate
    let authenticator: APIKeyAuthenticator
    let logger: Logger
}

extension RouteDependencies {
    func buildRouter() -> Router<BasicRequestContext> {
        let router = Router(context: BasicRequestContext.self)
        router.add(middleware: ResponseMiddleware(metrics: metrics, retryAfter: configuration.retryAfterSeconds, logger: logger))
        router.post("/v1/events") { request, context in try await self.intake(request, endpoint: .events) }
        router.post("/v1/messages") { request, context in try await self.intake(request, endpoint: .messages) }
        router.get("/v1/loads") { request, _ in try await self.listLoads(request) }
        router.post("/v1/loads") { request, _ in try await self.manualLoad(request) }
        router.get("/v1/dlq") { request, _ in try await self.listDeadLetters(request) }
        router.post("/v1/dlq/replay") { request, _ in try await self.replayDeadLetters(request) }
        router.get("/v1/dlq/{id}") { request, context in try await self.getDeadLetter(request, id: context.parameters.get("id") ?? "") }
        router.delete("/v1/dlq/{id}") { request, context in try await self.deleteDeadLetter(request, id: context.parameters.get("id") ?? "") }
        router.post("/v1/dlq/{id}/replay") { request, context in try await self.replayDeadLetter(request, id: context.parameters.get("id") ?? "") }
        router.get("/v1/loads/{correlation_id}") { request, context in
            try await self.getLoad(request, id: context.parameters.get("correlation_id") ?? "")
        }
        router.get("/health") { request, _ in try self.health(request) }
        router.head("/health") { request, _ in try self.health(request) }
        router.get("/ready") { request, _ in try await self.ready(request) }
        router.head("/ready") { request, _ in try await self.ready(request) }
        router.get("/metrics") { request, _ in try await self.metricsPage(request) }
        return router
    }

    func authenticate(_ request: Request) throws {
        guard authenticator.isEnabled else { return }
        let name = HTTPField.Name(configuration.authHeader) ?? HTTPField.Name("x-api-key")!
        guard authenticator.isValid(request.headers[name]) else { throw APIError.unauthorized() }
    }

    private func authenticateOps(_ request: Request) throws {
        if configuration.protectOps { try authenticate(request) }
    }

    func headerCorrelationID(_ request: Request) throws -> String? {
        guard let value = request.headers[Routes.correlationHeader] else { return nil }
        guard CorrelationID.isValid(value) else {
            throw APIError(
                status: 400, code: ErrorCode.invalidEvent.rawValue,
                message: "X-Correlation-ID must be 1–128 characters of letters, digits, '.', '_', ':' or '-'",
                field: "X-Correlation-ID"
            )
        }
        return value
    }

    private func intake(_ request: Request, endpoint: IntakeHandler.Endpoint) async throws -> Response {
        if gate.isDraining {
            throw APIError(status: 503, code: "unavailable", message: "Sluice is shutting down", retryAfter: configuration.retryAfterSeconds)
        }
        try authenticate(request)
        let correlationID = try headerCorrelationID(request)
        if let encoding = request.headers[.contentEncoding], encoding.lowercased() != "identity" {
            throw APIError(status: 415, code: "unsupported_media_type", message: "Content-Encoding \(encoding) is not accepted; send the body uncompressed")
        }
        let contentType = request.headers[.contentType]?.lowercased() ?? ""
        let mediaType = contentType.split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces) } ?? ""
        guard mediaType == "application/json" || mediaType == "text/plain" || (mediaType.hasPrefix("application/") && mediaType.hasSuffix("+json")) else {
            throw APIError(
                status: 415, code: "unsupported_media_type",
                message: "Content-Type must be application/json (got \(contentType.isEmpty ? "none" : contentType))"
            )
        }
        if let length = request.headers[.contentLength].flatMap(Int.init), length > configuration.maxBodyBytes {
            throw APIError(status: 413, code: "payload_too_large", message: "the request body (\(length) bytes) is larger than http.max_body_bytes (\(configuration.maxBodyBytes))")
        }
        let body = try await collect(request)
        let reply = await self.intake.handle(body: body, endpoint: endpoint, headerCorrelationID: correlationID)
        return Routes.json(reply.body, status: reply.status, correlationID: reply.correlationID, retryAfter: reply.retryAfter)
    }

    /// Reads the body within `http.body_timeout_s` and `http.max_body_bytes`.
    private func collect(_ request: Request) async throws -> [UInt8] {
        let limit = configuration.maxBodyBytes
        let timeout = configuration.bodyTimeoutSeconds
        let body = request.body
        return try await withThrowingTaskGroup(of: [UInt8]?.self) { group in
            group.addTask {
                var buffer = try await body.collect(upTo: limit)
                return buffer.readBytes(length: buffer.readableBytes) ?? []
            }
            group.addTask {
                try await Task.sleep(for: .milliseconds(Int(timeout * 1000)))
                return nil
            }
            defer { group.cancelAll() }
            guard let first = try await group.next(), let bytes = first else {
                throw APIError(status: 408, code: "request_timeout", message: "the request body did not arrive within \(timeout) s")
            }
            return bytes
        }
    }

    private func listLoads(_ request: Request) async throws -> Response {
        try authenticate(request)
        let query = request.uri.queryParameters
        var filter = EntryFilter()
        if let status = query["status"].map(String.init), !status.isEmpty {
            var states: [EntryState] = []
            for s in status.split(separator: ",") {
                guard let state = EntryState(rawValue: String(s)) else {
                    throw APIError(status: 400, code: "bad_request", message: "unknown status \"\(s)\"; one of \(EntryState.allCases.map(\.rawValue).joined(separator: ", "))", field: "status")
                }
                states.append(state)
            }
            filter.states = states
        }
        if let domain = query["domain"].map(String.init), !domain.isEmpty { filter.domain = domain }
        if let table = query["table"].map(String.init), !table.isEmpty { filter.table = table }
        if let limit = query["limit"].map(String.init) {
            guard let n = Int(limit), (1...1000).contains(n) else {
                throw APIError(status: 400, code: "bad_request", message: "limit must be an integer from 1 to 1000", field: "limit")
            }
            filter.limit = n
        }
        let entries = try await journal.entries(filter)
        return Routes.json(
            .object([(key: "loads", value: .array(entries.map { LoadJSON.entry($0, history: nil) })), (key: "count", value: .integer(entries.count))]),
            status: 200, correlationID: nil
        )
    }

    private func getLoad(_ request: Request, id: String) async throws -> Response {
        try authenticate(request)
        guard CorrelationID.isValid(id), let (entry, history) = try await journal.entry(correlationID: id) else {
            throw APIError.notFound("no load with correlation id \(id)")
        }
        return Routes.json(LoadJSON.entry(entry, history: history), status: 200, correlationID: entry.correlationID)
    }

    private func health(_ request: Request) throws -> Response {
        try authenticateOps(request)
        let status = gate.isDraining ? "draining" : "ok"
        return Routes.json(.object([(key: "status", value: .string(status))]), status: 200, correlationID: nil)
    }

    private func ready(_ request: Request) async throws -> Response {
        try authenticateOps(request)
        let (open, lastError) = journal.writeStatus
        var checks: [(key: String, value: JSONValue)] = []
        var ok = true
        if !open {
            ok = false
            checks.append((key: "journal", value: "closed"))
        } else if let lastError {
            ok = false
            checks.append((key: "journal", value: .string("write failing: \(lastError)")))
        } else {
            checks.append((key: "journal", value: "ok"))
        }
        if gate.isDraining {
            ok = false
            checks.append((key: "intake", value: "draining"))
        } else {
            checks.append((key: "intake", value: "ok"))
        }
        let results = await withTaskGroup(of: (Int, String?).self) { group in
            for (i, check) in readinessChecks.enumerated() {
                group.addTask { (i, await check.check()) }
            }
            var out = [String?](repeating: nil, count: readinessChecks.count)
            for await (i, r) in group { out[i] = r }
            return out
        }
        for (check, problem) in zip(readinessChecks, results) {
            if let problem {
                ok = false
                checks.append((key: check.name, value: .string(problem)))
            } else {
                checks.append((key: check.name, value: "ok"))
            }
        }
        return Routes.json(
            .object([(key: "status", value: .string(ok ? "ready" : "not_ready")), (key: "checks", value: .object(checks))]),
            status: ok ? 200 : 503, correlationID: nil, retryAfter: ok ? nil : configuration.retryAfterSeconds
        )
    }

    private func metricsPage(_ request: Request) async throws -> Response {
        try authenticateOps(request)
        let (_, byDomain) = journal.pendingCounts
        for domain in domains {
            metrics.setQueueDepth(domain: domain.name, priority: domain.priority.rawValue, depth: byDomain[domain.name] ?? 0)
        }
        if let depth = try? await journal.queueDepth() {
            let age = depth.oldestPendingAt.map { max(0, Date().timeIntervalSince1970 - Double($0) / 1000) } ?? 0
            metrics.setOldestPendingAge(seconds: age)
        }
        if let dead = try? await journal.deadLetterCount() { metrics.setDeadLetters(dead) }
        var headers = HTTPFields()
        headers[.contentType] = "text/plain; version=0.0.4; charset=utf-8"
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: metrics.render())))
    }
}

/// JSON renderings of journal records.
enum LoadJSON {
    static func time(_ ms: Int64) -> JSONValue {
        .string(Date(timeIntervalSince1970: Double(ms) / 1000).formatted(.iso8601.year().month().day().time(includingFractionalSeconds: true).timeZone(separator: .omitted)))
    }

    static func entry(_ e: JournalEntry, history: [HistoryRecord]?) -> JSONValue {
        var m: [(key: String, value: JSONValue)] = [
            (key: "correlation_id", value: .string(e.correlationID)),
            (key: "status", value: .string(e.state.rawValue)),
            (key: "source", value: .string(e.source)),
            (key: "bucket", value: .string(e.bucket)),
            (key: "key", value: .string(e.key)),
            (key: "domain", value: .string(e.domain)),
            (key: "table_name", value: .string(e.tableName)),
            (key: "table", value: .string(e.target.description)),
            (key: "partition", value: .string(e.partition)),
            (key: "priority", value: .string(e.priority.rawValue)),
            (key: "attempts", value: .integer(e.attempts)),
            (key: "received_at", value: time(e.receivedAt)),
            (key: "updated_at", value: time(e.updatedAt)),
        ]
        if let size = e.size { m.append((key: "file_size", value: .integer(size))) }
        if let etag = e.etag { m.append((key: "etag", value: .string(etag))) }
        if let v = e.versionID { m.append((key: "version_id", value: .string(v))) }
        if let t = e.eventTime { m.append((key: "event_time", value: .string(t))) }
        if let n = e.nextAttemptAt { m.append((key: "next_attempt_at", value: time(n))) }
        if let c = e.lastErrorCode { m.append((key: "last_error_code", value: .string(c))) }
        if let msg = e.lastErrorMessage { m.append((key: "last_error", value: .string(msg))) }
        if let r = e.rowsLoaded { m.append((key: "rows", value: .integer(r))) }
        if let b = e.bytesLoaded { m.append((key: "bytes", value: .integer(b))) }
        if let history {
            m.append((key: "history", value: .array(history.map { h in
                var hm: [(key: String, value: JSONValue)] = [
                    (key: "at", value: time(h.at)),
                    (key: "event", value: .string(h.event)),
                    (key: "to", value: .string(h.to.rawValue)),
                ]
                if let from = h.from { hm.append((key: "from", value: .string(from.rawValue))) }
                if let code = h.code { hm.append((key: "code", value: .string(code))) }
                if let message = h.message { hm.append((key: "message", value: .string(message))) }
                return .object(hm)
            })))
        }
        return .object(m)
    }
}
