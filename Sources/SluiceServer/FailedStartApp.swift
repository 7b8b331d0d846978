public import Logging
public import ServiceLifecycle
import EventPattern
import Hummingbird
import HummingbirdCore
import HTTPTypes
import NIOCore
import SluiceCore

/// What `sluice serve` runs when the journal cannot be used (a damaged or unreadable file): no intake, no loads,
/// only an HTTP listener that says what is wrong, so that an orchestrator's probes and an operator's `curl` see
/// the reason instead of a restart loop.
///
/// Every request is answered `503` with `Retry-After`; `/health` and `/ready` carry the problem under
/// `checks.journal`. The journal file itself is never touched.
public struct FailedStartApp: Sendable {
    let application: Application<RouterResponder<BasicRequestContext>>

    /// - Parameters:
    ///   - problem: what is wrong, naming the file (the journal error's description).
    ///   - onListening: called with the bound port once the server listens.
    public init(
        configuration: SluiceConfiguration, problem: String, logger: Logger,
        onListening: @escaping @Sendable (Int) async -> Void = { _ in }
    ) {
        let server = configuration.server
        let router = Router()
        router.add(middleware: FailedStartMiddleware(problem: problem, retryAfter: server.retryAfterSeconds))
        application = Application(
            router: router,
            server: .http1(configuration: .init(idleTimeout: .milliseconds(Int64(server.idleTimeoutSeconds * 1000)))),
            configuration: ApplicationConfiguration(
                address: .hostname(server.host, port: server.port),
                serverName: "sluice",
                availableConnectionsDelegate: MaximumAvailableConnections(server.maxConnections)
            ),
            onServerRunning: { channel in await onListening(channel.localAddress?.port ?? server.port) },
            logger: logger
        )
    }

    /// The HTTP server, to run in a `ServiceGroup`.
    public var services: [any Service] { [application] }
}

/// Answers every request: the health endpoints with the failed check, everything else with `unavailable`.
struct FailedStartMiddleware<Context: RequestContext>: RouterMiddleware {
    let problem: String
    let retryAfter: Int

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        switch request.uri.path {
        case "/health", "/ready":
            return Routes.json(
                .object([
                    (key: "status", value: .string(request.uri.path == "/health" ? "failed" : "not_ready")),
                    (key: "checks", value: .object([(key: "journal", value: .string(problem))])),
                ]),
                status: 503, correlationID: nil, retryAfter: retryAfter)
        default:
            return Routes.json(
                .object([
                    (key: "code", value: "unavailable"),
                    (key: "message", value: .string("Sluice is not serving: the journal cannot be used: \(problem)")),
                    (key: "retry_after", value: .integer(retryAfter)),
                ]),
                status: 503, correlationID: nil, retryAfter: retryAfter)
        }
    }
}
