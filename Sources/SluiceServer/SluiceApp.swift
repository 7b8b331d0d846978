public import Logging
public import SluiceIntake
public import SluiceJournal
public import SluiceMetrics
public import ServiceLifecycle
import EventPattern
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdCore
import NIOCore
import SluiceCore

/// Sluice's HTTP service and everything it runs, assembled from a configuration.
///
/// `services` lists the long-lived parts in start order; a `ServiceGroup` shuts them down in reverse:
/// first the drain gate (intake answers 503), then the HTTP server, then the journal (which commits what
/// it already holds).
public struct SluiceApp: Sendable {
    public let configuration: SluiceConfiguration
    public let journal: Journal
    public let metrics: SluiceMetrics
    public let gate: DrainGate
    public let intake: Intake
    /// The loaders and the SQS consumer; `nil` when built without them (intake only).
    public let pipeline: Pipeline?
    let application: Application<RouterResponder<BasicRequestContext>>

    /// Builds the service.
    ///
    /// - Parameters:
    ///   - onListening: called with the bound port once the server listens (useful with `http.port: 0`).
    ///   - withPipeline: build the loaders, the SQS consumer and their clients (`sluice serve`); without it,
    ///     Sluice only journals.
    public init(
        configuration: SluiceConfiguration,
        logger: Logger,
        journal: Journal? = nil,
        withPipeline: Bool = false,
        onListening: @escaping @Sendable (Int) async -> Void = { _ in }
    ) throws {
        self.configuration = configuration
        let journal = try journal ?? Journal(configuration: configuration.journal, logger: logger)
        self.journal = journal
        let metrics = SluiceMetrics()
        metrics.prime(domains: configuration.intake.domains.map { ($0.name, $0.priority.rawValue) })
        self.metrics = metrics
        let gate = DrainGate(drainSeconds: configuration.server.drainSeconds)
        self.gate = gate
        var patternJSON: JSONValue?
        if let file = configuration.intake.patternFile {
            do {
                let bytes = try Array(Data(contentsOf: URL(fileURLWithPath: file)))
                patternJSON = try JSONValue.parse(bytes, maxDepth: 64)
            } catch {
                throw ConfigurationError(problems: [ConfigProblem(key: "intake.pattern_file", reason: "cannot read pattern \(file): \(error)")])
            }
        }
        let intake: Intake
        do {
            intake = try Intake(configuration: configuration.intake, patternJSON: patternJSON)
        } catch {
            throw ConfigurationError(problems: [ConfigProblem(key: "intake.pattern_file", reason: "invalid pattern: \(error)")])
        }
        self.intake = intake
        let pipeline = withPipeline ? try Pipeline(configuration: configuration, journal: journal, metrics: metrics, logger: logger) : nil
        self.pipeline = pipeline
        let onQueued: @Sendable () -> Void = { pipeline?.wake() }
        let readinessChecks = pipeline?.readinessChecks ?? []
        let server = configuration.server
        let dependencies = RouteDependencies(
            intake: IntakeHandler(
                intake: intake, journal: journal, metrics: metrics, configuration: server, logger: logger,
                makeID: { UUID().uuidString.lowercased() }, onQueued: onQueued
            ),
            intakeRules: intake,
            readinessChecks: readinessChecks,
            onQueued: onQueued,
            journal: journal,
            metrics: metrics,
            configuration: server,
            domains: configuration.intake.domains,
            gate: gate,
            authenticator: APIKeyAuthenticator(keys: server.apiKeys),
            logger: logger
        )
        let router = dependencies.buildRouter()
        let shedder = ConnectionShedder(limit: server.maxConnections)
        application = Application(
            router: router,
            server: .http1(
                configuration: .init(
                    additionalChannelHandlers: [
                        ConnectionSheddingHandler(
                            shedder: shedder, headerTimeout: .milliseconds(Int64(server.headerTimeoutSeconds * 1000)),
                            nextHeaderTimeout: .milliseconds(Int64((server.idleTimeoutSeconds + server.headerTimeoutSeconds) * 1000)))
                    ],
                    idleTimeout: .milliseconds(Int64(server.idleTimeoutSeconds * 1000)))),
            configuration: ApplicationConfiguration(
                address: .hostname(server.host, port: server.port),
                serverName: "sluice",
                backlog: 1024,
                availableConnectionsDelegate: MaximumAvailableConnections(server.maxConnections * 2)
            ),
            onServerRunning: { channel in
                await onListening(channel.localAddress?.port ?? server.port)
            },
            logger: logger
        )
    }

    /// The long-lived parts, in start order (stopped in reverse: drain, HTTP, SQS polling, loaders, journal).
    public var services: [any Service] {
        [journal] + (pipeline?.services ?? []) + [application, gate]
    }

    /// Releases the clients after every service stopped.
    public func shutdown() async {
        await pipeline?.shutdown()
    }
}
