import EventPattern
import Foundation
import HTTPTypes
import Logging
import Hummingbird
import NIOCore
import SluiceCore
import SluiceIntake
import SluiceJournal
import SluiceMetrics

/// Manual loads and the dead-letter queue.
extension RouteDependencies {
    /// `POST /v1/loads`: `{"bucket","key"}` or `{"uri":"s3://…"}`, optional `"table":"db.table"`;
    /// `?wait=true` holds the answer until the load ends (or `timeout_s`, default 300).
    func manualLoad(_ request: Request) async throws -> Response {
        if gate.isDraining {
            throw APIError(status: 503, code: "unavailable", message: "Sluice is shutting down", retryAfter: configuration.retryAfterSeconds)
        }
        try authenticate(request)
        let headerID = try headerCorrelationID(request)
        // The query is checked before anything is queued: a bad parameter must not leave a load behind.
        let query = request.uri.queryParameters
        let wait = try Self.flag(query["wait"].map(String.init), name: "wait")
        var timeout = 300.0
        if let t = query["timeout_s"].map(String.init) {
            guard let v = Double(t), v >= 0, v <= 3600 else {
                throw APIError(status: 400, code: "bad_request", message: "timeout_s must be a number of seconds from 0 to 3600", field: "timeout_s")
            }
            timeout = v
        }
        let json = try await jsonBody(request)
        guard json.objectValue != nil else { throw APIError(SluiceError.invalidEvent("expected a JSON object", field: "$"), retryAfter: 0) }
        var table: TableReference?
        if let t = json["table"], !t.isNull {
            guard let text = t.stringValue, let ref = TableReference(qualified: text) else {
                throw APIError(SluiceError.invalidEvent("table must be \"database.table\" (letters, digits, underscores)", field: "table"), retryAfter: 0)
            }
            table = ref
        }
        let load: ManualLoadRequest
        do {
            if let uri = json["uri"] {
                guard let text = uri.stringValue else { throw SluiceError.invalidEvent("uri must be a string", field: "uri") }
                load = try ManualLoadRequest(uri: text, table: table)
            } else {
                guard let bucket = json["bucket"]?.stringValue else { throw SluiceError.invalidEvent("give bucket and key, or uri", field: "bucket") }
                guard let key = json["key"]?.stringValue else { throw SluiceError.invalidEvent("give bucket and key, or uri", field: "key") }
                load = ManualLoadRequest(bucket: bucket, key: key, table: table)
            }
        } catch let error as SluiceError {
            throw APIError(error, retryAfter: 0)
        }
        let correlationID = headerID ?? UUID().uuidString.lowercased()
        let file: QueuedFile
        do {
            file = try intakeRules.manualLoad(load, correlationID: correlationID)
        } catch where error.field == "table" || error.field == "key" {
            // Well-formed, but the key cannot be routed to a table: unprocessable rather than malformed.
            throw APIError(status: 422, code: error.code.rawValue, message: error.message, field: error.field)
        } catch {
            throw APIError(error, retryAfter: 0)
        }
        switch try await journal.enqueue([file]) {
        case .full(let reason):
            throw APIError(status: 429, code: "queue_full", message: reason, retryAfter: configuration.retryAfterSeconds)
        case .accepted:
            metrics.eventReceived(source: EventSource.manual.rawValue, outcome: "queued")
            onQueued()
        }
        logger.info("manual load queued", metadata: ["correlation_id": "\(correlationID)", "table": "\(file.target)"])
        guard wait else {
            return Routes.json(
                .object([
                    (key: "status", value: "queued"), (key: "correlation_id", value: .string(correlationID)),
                    (key: "bucket", value: .string(load.bucket)), (key: "key", value: .string(load.key)),
                    (key: "table", value: .string(file.target.description)),
                ]),
                status: 202, correlationID: correlationID
            )
        }
        let started = ContinuousClock.now
        guard let entry = try await journal.waitForOutcome(correlationID: correlationID, timeout: .milliseconds(Int(timeout * 1000))) else {
            throw APIError.notFound("load \(correlationID) vanished")
        }
        var body = LoadJSON.entry(entry, history: nil)
        if case .object(var m) = body {
            let elapsed = ContinuousClock.now - started
            m.append((key: "duration_s", value: JSONValue.double(Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18) ?? .integer(0)))
            body = .object(m)
        }
        let status: Int
        switch entry.state {
        case .loaded: status = 200
        case .deadLettered: status = 422
        default: status = 202
        }
        return Routes.json(body, status: status, correlationID: correlationID)
    }

    func listDeadLetters(_ request: Request) async throws -> Response {
        try authenticate(request)
        let filter = try deadLetterFilter(from: request.uri.queryParameters.map { (String($0.key), String($0.value)) })
        let letters = try await journal.deadLetters(filter)
        return Routes.json(
            .object([(key: "dead_letters", value: .array(letters.map { DeadLetterJSON.letter($0) })), (key: "count", value: .integer(letters.count))]),
            status: 200, correlationID: nil
        )
    }

    func getDeadLetter(_ request: Request, id: String) async throws -> Response {
        try authenticate(request)
        guard let n = Int64(id), let (letter, entry, history) = try await journal.deadLetter(id: n) else {
            throw APIError.notFound("no dead letter \(id)")
        }
        var body = DeadLetterJSON.letter(letter, includePayload: true)
        if case .object(var m) = body {
            if let entry { m.append((key: "load", value: LoadJSON.entry(entry, history: history))) }
            body = .object(m)
        }
        return Routes.json(body, status: 200, correlationID: letter.correlationID)
    }

    func deleteDeadLetter(_ request: Request, id: String) async throws -> Response {
        try authenticate(request)
        guard let n = Int64(id) else { throw APIError.notFound("no dead letter \(id)") }
        try await journal.deleteDeadLetter(id: n)
        return Routes.json(.object([(key: "status", value: "deleted"), (key: "id", value: .integer(n))]), status: 200, correlationID: nil)
    }

    func replayDeadLetter(_ request: Request, id: String) async throws -> Response {
        try authenticate(request)
        guard let n = Int64(id) else { throw APIError.notFound("no dead letter \(id)") }
        let restart = try Self.flag(request.uri.queryParameters["restart"].map(String.init), name: "restart")
        switch try await journal.replay(deadLetterID: n, restart: restart) {
        case .queued(let cid):
            onQueued()
            logger.info("dead letter replayed", metadata: ["correlation_id": "\(cid)", "dead_letter": "\(n)"])
            return Routes.json(.object([(key: "status", value: "queued"), (key: "id", value: .integer(n)), (key: "correlation_id", value: .string(cid))]), status: 202, correlationID: cid)
        case .notReplayable(let reason):
            throw APIError(status: 409, code: "not_replayable", message: reason)
        }
    }

    /// `POST /v1/dlq/replay`: replays every dead letter matching the body's filters (`code`, `domain`,
    /// `table`, `since`, `limit`); invalid payloads are skipped.
    func replayDeadLetters(_ request: Request) async throws -> Response {
        try authenticate(request)
        let json = try await jsonBody(request, allowEmpty: true)
        guard let members = json.objectValue else {
            throw APIError(SluiceError.invalidEvent("the body must be a JSON object", field: "$"), retryAfter: 0)
        }
        var pairs: [(String, String)] = []
        for (k, v) in members {
            switch k {
            case "limit":
                guard let i = v.integerValue else {
                    throw APIError(status: 400, code: "bad_request", message: "limit must be an integer from 1 to 1000", field: "limit")
                }
                pairs.append((k, String(i)))
            case "code", "domain", "table", "since":
                guard let s = v.stringValue else {
                    throw APIError(status: 400, code: "bad_request", message: "\(k) must be a string", field: k)
                }
                pairs.append((k, s))
            default:
                continue
            }
        }
        let filter = try deadLetterFilter(from: pairs, defaultLimit: 1000)
        var replayed: [JSONValue] = []
        var skipped = 0
        for letter in try await journal.deadLetters(filter) {
            switch try await journal.replay(deadLetterID: letter.id) {
            case .queued(let cid): replayed.append(.object([(key: "id", value: .integer(letter.id)), (key: "correlation_id", value: .string(cid))]))
            case .notReplayable: skipped += 1
            }
        }
        if !replayed.isEmpty { onQueued() }
        logger.info("dead letters replayed", metadata: ["count": "\(replayed.count)", "skipped": "\(skipped)"])
        return Routes.json(
            .object([(key: "replayed", value: .array(replayed)), (key: "count", value: .integer(replayed.count)), (key: "skipped", value: .integer(skipped))]),
            status: 200, correlationID: nil
        )
    }

    /// A boolean query parameter: `true`/`1`/`yes` or `false`/`0`/`no`; absent is false.
    static func flag(_ value: String?, name: String) throws -> Bool {
        guard let value else { return false }
        switch value {
        case "true", "1", "yes": return true
        case "false", "0", "no": return false
        default: throw APIError(status: 400, code: "bad_request", message: "\(name) must be true or false", field: name)
        }
    }

    private func deadLetterFilter(from pairs: [(String, String)], defaultLimit: Int = 100) throws -> DeadLetterFilter {
        var filter = DeadLetterFilter(limit: defaultLimit)
        for (key, value) in pairs {
            // An empty `domain` or `table` means "any"; an empty code, time or limit is a mistake.
            if value.isEmpty, key != "code", key != "since", key != "limit" { continue }
            switch key {
            case "code":
                guard ErrorCode(rawValue: value) != nil else {
                    throw APIError(status: 400, code: "bad_request", message: "code must be one of E001–E006", field: "code")
                }
                filter.code = value
            case "domain": filter.domain = value
            case "table": filter.table = value
            case "since":
                if let ms = TimeParsing.milliseconds(since: value) {
                    filter.since = ms
                } else {
                    throw APIError(status: 400, code: "bad_request", message: "since must be an ISO 8601 time or Unix seconds", field: "since")
                }
            case "limit":
                guard let n = Int(value), (1...1000).contains(n) else {
                    throw APIError(status: 400, code: "bad_request", message: "limit must be an integer from 1 to 1000", field: "limit")
                }
                filter.limit = n
            default:
                continue
            }
        }
        return filter
    }

    /// Reads a small JSON body for the operations endpoints.
    func jsonBody(_ request: Request, allowEmpty: Bool = false) async throws -> JSONValue {
        let contentType = request.headers[.contentType]?.lowercased() ?? ""
        var buffer = try await request.body.collect(upTo: 64 * 1024)
        let bytes = buffer.readBytes(length: buffer.readableBytes) ?? []
        if bytes.isEmpty, allowEmpty { return .object([]) }
        guard contentType.hasPrefix("application/json") else {
            throw APIError(status: 415, code: "unsupported_media_type", message: "Content-Type must be application/json")
        }
        do {
            return try JSONValue.parse(bytes, maxDepth: 8)
        } catch {
            throw APIError(SluiceError.invalidEvent("request body is not valid JSON: \(error)", field: "$"), retryAfter: 0)
        }
    }
}

enum DeadLetterJSON {
    static func letter(_ d: DeadLetter, includePayload: Bool = false) -> JSONValue {
        var m: [(key: String, value: JSONValue)] = [
            (key: "id", value: .integer(d.id)),
            (key: "correlation_id", value: .string(d.correlationID)),
            (key: "code", value: .string(d.code)),
            (key: "category", value: .string(d.category)),
            (key: "message", value: .string(d.message)),
            (key: "recovery", value: .string(ErrorCode(rawValue: d.code)?.recoveryHint ?? "")),
            (key: "created_at", value: LoadJSON.time(d.createdAt)),
        ]
        if let f = d.field { m.append((key: "field", value: .string(f))) }
        if let s = d.source { m.append((key: "source", value: .string(s))) }
        if let dm = d.domain { m.append((key: "domain", value: .string(dm))) }
        if let t = d.tableName { m.append((key: "table_name", value: .string(t))) }
        m.append((key: "replayable", value: .bool(d.entryID != nil)))
        if includePayload, let p = d.payload { m.append((key: "payload", value: .string(p))) }
        return .object(m)
    }
}

/// The `since` filter: Unix seconds (`1757500000`, at most three decimals) or a UTC time
/// `YYYY-MM-DDTHH:MM:SSZ` on a real calendar day. Anything else is refused, not guessed at.
enum TimeParsing {
    static func milliseconds(since text: String) -> Int64? {
        let b = Array(text.utf8)
        func digits(_ r: Range<Int>) -> Int? {
            guard r.upperBound <= b.count, !r.isEmpty else { return nil }
            var n = 0
            for i in r {
                guard b[i] >= 0x30, b[i] <= 0x39 else { return nil }
                n = n * 10 + Int(b[i] - 0x30)
            }
            return n
        }
        if let dot = b.firstIndex(of: UInt8(ascii: ".")) ?? Optional(b.count), (1...10).contains(dot), let whole = digits(0..<dot) {
            if dot == b.count { return Int64(whole) * 1000 }
            let fraction = b.count - dot - 1
            guard (1...3).contains(fraction), let f = digits(dot + 1..<b.count) else { return nil }
            return Int64(whole) * 1000 + Int64(f * [100, 10, 1][fraction - 1])
        }
        guard b.count == 20, b[4] == UInt8(ascii: "-"), b[7] == UInt8(ascii: "-"), b[10] == UInt8(ascii: "T"),
            b[13] == UInt8(ascii: ":"), b[16] == UInt8(ascii: ":"), b[19] == UInt8(ascii: "Z"),
            let year = digits(0..<4), let month = digits(5..<7), let day = digits(8..<10),
            let hour = digits(11..<13), let minute = digits(14..<16), let second = digits(17..<19),
            (1...12).contains(month), hour < 24, minute < 60, second < 60
        else { return nil }
        let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
        let monthDays = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1]
        guard (1...monthDays).contains(day) else { return nil }
        // Days from 1970-01-01 in the proleptic Gregorian calendar (the civil-from-days inverse).
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        let days = era * 146_097 + doe - 719_468
        return (Int64(days) * 86_400 + Int64(hour * 3600 + minute * 60 + second)) * 1000
    }
}
