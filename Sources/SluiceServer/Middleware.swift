import EventPattern
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import SluiceIntake
import SluiceMetrics

/// Outermost middleware: times every request, turns every error into Sluice's JSON error body (the one
/// place where errors become statuses), answers 405 for a known path with another method, and echoes the
/// correlation id.
struct ResponseMiddleware<Context: RequestContext>: RouterMiddleware {
    let metrics: SluiceMetrics
    let retryAfter: Int
    let logger: Logger

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let start = ContinuousClock.now
        let route = Routes.template(for: request.uri.path)
        var response: Response
        do {
            response = try await next(request, context)
        } catch {
            response = errorResponse(error, request: request, route: route)
        }
        metrics.httpRequest(
            method: request.method.rawValue,
            route: route ?? "unmatched",
            status: response.status.code,
            duration: ContinuousClock.now - start
        )
        return response
    }

    private func errorResponse(_ error: any Error, request: Request, route: String?) -> Response {
        var headers = HTTPFields()
        let apiError: APIError
        switch error {
        case let e as APIError:
            apiError = e
        case is NIOTooManyBytesError:
            apiError = APIError(status: 413, code: "payload_too_large", message: "the request body is larger than http.max_body_bytes")
        case let e as HTTPError where e.status == .notFound:
            if let route, let allowed = Routes.methods[route], !allowed.contains(request.method.rawValue) {
                apiError = APIError(status: 405, code: "method_not_allowed", message: "\(request.method.rawValue) is not allowed on \(route)")
                headers[.allow] = allowed.joined(separator: ", ")
            } else {
                apiError = .notFound("no such endpoint: \(request.method.rawValue) \(request.uri.path)")
            }
        case let e as HTTPError:
            apiError = APIError(status: Int(e.status.code), code: Self.word(e.status), message: e.body ?? e.status.reasonPhrase)
        case let e as any HTTPResponseError:
            apiError = APIError(status: Int(e.status.code), code: Self.word(e.status), message: e.status.reasonPhrase)
        default:
            logger.error("unhandled error", metadata: ["error": "\(String(reflecting: type(of: error)))"])
            apiError = APIError(error, retryAfter: retryAfter)
        }
        let correlationID = request.headers[Routes.correlationHeader].flatMap { CorrelationIDHeader.valid($0) }
        return Routes.json(apiError.body(correlationID: correlationID), status: apiError.status, correlationID: correlationID, retryAfter: apiError.retryAfter, extra: headers)
    }

    static func word(_ status: HTTPResponse.Status) -> String {
        status.reasonPhrase.lowercased().split(separator: " ").joined(separator: "_")
    }
}

enum CorrelationIDHeader {
    /// The header's value when it is an acceptable correlation id.
    static func valid(_ value: String) -> String? {
        CorrelationID.isValid(value) ? value : nil
    }
}
