import EventPattern
import SluiceCore
import SluiceJournal

/// An HTTP error answer. This is the one place where Sluice's errors become status codes.
struct APIError: Error, Sendable {
    var status: Int
    /// `E001`… for pipeline errors, or a short word for protocol errors (`unauthorized`, `payload_too_large`).
    var code: String
    var message: String
    var field: String?
    var retryAfter: Int?

    init(status: Int, code: String, message: String, field: String? = nil, retryAfter: Int? = nil) {
        self.status = status
        self.code = code
        self.message = message
        self.field = field
        self.retryAfter = retryAfter
    }

    /// Maps a domain error to its answer.
    init(_ error: any Error, retryAfter: Int) {
        switch error {
        case let e as APIError:
            self = e
        case let e as SluiceError:
            self.init(status: e.code == .invalidEvent ? 400 : 422, code: e.code.rawValue, message: e.message, field: e.field)
        case let e as JournalError:
            switch e.kind {
            case .unavailable, .corrupt, .closed:
                self.init(status: 503, code: "unavailable", message: "the journal cannot accept events now: \(e.message)", retryAfter: retryAfter)
            case .notFound:
                self.init(status: 404, code: "not_found", message: e.message)
            case .illegalTransition:
                self.init(status: 409, code: "conflict", message: e.message)
            }
        default:
            self.init(status: 500, code: "internal", message: "internal error")
        }
    }

    static func unauthorized() -> APIError {
        APIError(status: 401, code: "unauthorized", message: "missing or invalid API key")
    }

    static func notFound(_ what: String) -> APIError {
        APIError(status: 404, code: "not_found", message: what)
    }

    func body(correlationID: String?) -> JSONValue {
        var members: [(key: String, value: JSONValue)] = [(key: "code", value: .string(code)), (key: "message", value: .string(message))]
        if let field { members.append((key: "field", value: .string(field))) }
        if let retryAfter { members.append((key: "retry_after", value: .integer(retryAfter))) }
        if let correlationID { members.append((key: "correlation_id", value: .string(correlationID))) }
        return .object(members)
    }
}
