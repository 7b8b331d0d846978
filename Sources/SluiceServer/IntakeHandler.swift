import EventPattern
import Foundation
import Logging
import SluiceCore
import SluiceIntake
import SluiceJournal
import SluiceMetrics

/// The intake endpoints' logic, free of HTTP framework types: body bytes in, status and JSON out.
///
/// Steps: parse (depth-capped), decode each event, apply the pattern and routing, then hand every file of
/// the request to the journal at once. Malformed input is answered 400 with E001 and the payload is kept
/// in the dead-letter store for manual review.
struct IntakeHandler: Sendable {
    enum Endpoint: Sendable {
        case events
        case messages

        var source: String {
            switch self {
            case .events: "events"
            case .messages: "messages"
            }
        }
    }

    struct Reply: Sendable {
        var status: Int
        var body: JSONValue
        var correlationID: String
        var retryAfter: Int?
    }

    let intake: Intake
    let journal: Journal
    let metrics: SluiceMetrics
    let configuration: ServerConfiguration
    let logger: Logger
    let makeID: @Sendable () -> String
    /// Called after files were queued (wakes the loaders).
    var onQueued: @Sendable () -> Void = {}

    func handle(body: [UInt8], endpoint: Endpoint, headerCorrelationID: String?) async -> Reply {
        let requestID = headerCorrelationID ?? makeID()
        let json: JSONValue
        do {
            json = try JSONValue.parse(body, maxDepth: configuration.maxJSONDepth)
        } catch {
            return await invalid(
                SluiceError.invalidEvent("request body is not valid JSON: \(error)", field: "$"),
                correlationID: requestID, endpoint: endpoint, payload: body
            )
        }
        let decoded: [DecodedEvent]
        do {
            decoded = try endpoint == .events ? EventDecoder.decodeEvents(json) : EventDecoder.decodeMessages(json)
        } catch {
            return await invalid(error, correlationID: requestID, endpoint: endpoint, payload: body)
        }
        var decisions: [IntakeDecision] = []
        decisions.reserveCapacity(decoded.count)
        for (i, event) in decoded.enumerated() {
            let fallback = decoded.count == 1 ? requestID : (headerCorrelationID.map { "\($0)-\(i)" } ?? makeID())
            do {
                decisions.append(try intake.decide(event, fallbackCorrelationID: fallback))
            } catch {
                return await invalid(error, correlationID: requestID, endpoint: endpoint, payload: body)
            }
        }
        let files = decisions.compactMap { if case .accept(let f) = $0 { f } else { nil } }
        var outcomes: [EnqueueOutcome] = []
        if !files.isEmpty {
            let limits = Dictionary(uniqueKeysWithValues: intake.configuration.domains.compactMap { d in d.maxPending.map { (d.name, $0) } })
            do {
                switch try await journal.enqueue(files, domainLimits: limits) {
                case .full(let reason):
                    count(files, outcome: "rejected")
                    logger.warning("intake rejected: journal full", metadata: ["correlation_id": "\(requestID)", "reason": "\(reason)"])
                    let error = APIError(status: 429, code: "queue_full", message: reason, retryAfter: configuration.retryAfterSeconds)
                    return Reply(status: 429, body: error.body(correlationID: requestID), correlationID: requestID, retryAfter: configuration.retryAfterSeconds)
                case .accepted(let results):
                    outcomes = results
                    if results.contains(where: { if case .queued = $0 { true } else { false } }) { onQueued() }
                }
            } catch {
                metrics.journalWriteFailed()
                count(files, outcome: "rejected")
                let apiError = APIError(error, retryAfter: configuration.retryAfterSeconds)
                logger.error("intake failed: journal unavailable", metadata: ["correlation_id": "\(requestID)", "error": "\(error)"])
                return Reply(status: apiError.status, body: apiError.body(correlationID: requestID), correlationID: requestID, retryAfter: apiError.retryAfter)
            }
        }
        var items: [JSONValue] = []
        var anyQueued = false
        var anyDuplicate = false
        var nextOutcome = outcomes.makeIterator()
        for decision in decisions {
            switch decision {
            case .invalid(let error, let payload, let id):
                metrics.eventReceived(source: sourceLabel(decoded, endpoint), outcome: "invalid")
                logger.warning(
                    "invalid event inside an envelope",
                    metadata: ["correlation_id": "\(id)", "code": "\(error.code.rawValue)", "field": "\(error.field ?? "")", "error": "\(error.message)"]
                )
                do {
                    try await journal.recordInvalid(InvalidPayload(correlationID: id, error: error, source: endpoint.source, payload: payload))
                } catch {
                    logger.error("could not record invalid payload", metadata: ["correlation_id": "\(id)", "error": "\(error)"])
                }
                var m: [(key: String, value: JSONValue)] = [
                    (key: "status", value: "invalid"), (key: "correlation_id", value: .string(id)),
                    (key: "code", value: .string(error.code.rawValue)), (key: "message", value: .string(error.message)),
                ]
                if let field = error.field { m.append((key: "field", value: .string(field))) }
                items.append(.object(m))
            case .filter(let reason, let id):
                metrics.eventReceived(source: sourceLabel(decoded, endpoint), outcome: "filtered")
                logger.debug("event filtered", metadata: ["correlation_id": "\(id)", "reason": "\(reason)"])
                items.append(.object([(key: "status", value: "filtered"), (key: "correlation_id", value: .string(id)), (key: "reason", value: .string(reason))]))
            case .accept(let file):
                switch nextOutcome.next() {
                case .queued(let id, _):
                    anyQueued = true
                    metrics.eventReceived(source: file.source.rawValue, outcome: "queued")
                    logger.debug(
                        "event queued",
                        metadata: ["correlation_id": "\(id)", "domain": "\(file.domain)", "table": "\(file.target)"]
                    )
                    items.append(describe(file, status: "queued", correlationID: id))
                case .duplicate(_, let existing, let state):
                    anyDuplicate = true
                    metrics.eventReceived(source: file.source.rawValue, outcome: "duplicate")
                    logger.debug("duplicate event", metadata: ["correlation_id": "\(existing)", "state": "\(state.rawValue)"])
                    var d = describe(file, status: "duplicate", correlationID: existing)
                    if case .object(var m) = d {
                        m.append((key: "state", value: .string(state.rawValue)))
                        d = .object(m)
                    }
                    items.append(d)
                case nil:
                    preconditionFailure("journal returned no outcome for an accepted file")
                }
            }
        }
        let status = anyQueued ? 202 : 200
        if items.count == 1 {
            let id = items[0]["correlation_id"]?.stringValue ?? requestID
            return Reply(status: status, body: items[0], correlationID: id, retryAfter: nil)
        }
        let anyFiltered = decisions.contains { if case .filter = $0 { true } else { false } }
        let aggregate = anyQueued ? "queued" : (anyDuplicate ? "duplicate" : (anyFiltered ? "filtered" : "invalid"))
        return Reply(
            status: status,
            body: .object([(key: "status", value: .string(aggregate)), (key: "correlation_id", value: .string(requestID)), (key: "results", value: .array(items))]),
            correlationID: requestID,
            retryAfter: nil
        )
    }

    private func sourceLabel(_ decoded: [DecodedEvent], _ endpoint: Endpoint) -> String {
        endpoint == .messages ? EventSource.sqsMessage.rawValue : EventSource.eventBridge.rawValue
    }

    private func count(_ files: [QueuedFile], outcome: String) {
        for f in files { metrics.eventReceived(source: f.source.rawValue, outcome: outcome) }
    }

    private func describe(_ file: QueuedFile, status: String, correlationID: String) -> JSONValue {
        var m: [(key: String, value: JSONValue)] = [
            (key: "status", value: .string(status)),
            (key: "correlation_id", value: .string(correlationID)),
            (key: "bucket", value: .string(file.bucket)),
            (key: "key", value: .string(file.key)),
            (key: "domain", value: .string(file.domain)),
            (key: "table_name", value: .string(file.parsedKey.table)),
            (key: "table", value: .string(file.target.description)),
            (key: "partition", value: .string(file.parsedKey.partitionPath)),
            (key: "priority", value: .string(file.priority.rawValue)),
        ]
        if let size = file.size { m.append((key: "file_size", value: .integer(size))) }
        return .object(m)
    }

    private func invalid(_ error: any Error, correlationID: String, endpoint: Endpoint, payload: [UInt8]) async -> Reply {
        let sluiceError = (error as? SluiceError) ?? SluiceError.invalidEvent("\(error)", field: "$")
        metrics.eventReceived(source: endpoint == .messages ? EventSource.sqsMessage.rawValue : EventSource.eventBridge.rawValue, outcome: "invalid")
        logger.warning(
            "invalid event",
            metadata: ["correlation_id": "\(correlationID)", "code": "\(sluiceError.code.rawValue)", "field": "\(sluiceError.field ?? "")", "error": "\(sluiceError.message)"]
        )
        let text = String(decoding: payload, as: UTF8.self)
        do {
            try await journal.recordInvalid(InvalidPayload(correlationID: correlationID, error: sluiceError, source: endpoint.source, payload: text))
        } catch {
            logger.error("could not record invalid payload", metadata: ["correlation_id": "\(correlationID)", "error": "\(error)"])
        }
        let apiError = APIError(sluiceError, retryAfter: configuration.retryAfterSeconds)
        return Reply(status: apiError.status, body: apiError.body(correlationID: correlationID), correlationID: correlationID, retryAfter: nil)
    }
}
