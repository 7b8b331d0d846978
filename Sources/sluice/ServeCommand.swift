import ArgumentParser
import Foundation
import Logging
import ServiceLifecycle
import SluiceCore
import SluiceJournal
import SluiceServer
import UnixSignals

struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run the Sluice service (HTTP intake, journal, loaders) until SIGTERM or SIGINT."
    )

    @Option(name: .shortAndLong, help: "YAML configuration file; SLUICE_* environment variables override it.")
    var config: String?

    func run() async throws {
        let environment = ProcessInfo.processInfo.environment
        let (configuration, problems) = try await loadConfiguration(file: config, environment: environment)
        let all = problems + configuration.serveProblems
        guard all.isEmpty else {
            printError(ConfigurationError(problems: all).description)
            throw ExitCode(1)
        }
        bootstrapLogging(configuration.log)
        let logger = Logger(label: "sluice")
        if configuration.server.apiKeys.isEmpty {
            logger.warning(
                "authentication is disabled: auth.api_keys is empty, so anyone who can reach the port can submit events",
                metadata: ["setting": "auth.api_keys"]
            )
        }
        let app: SluiceApp
        do {
            app = try SluiceApp(configuration: configuration, logger: logger, withPipeline: true, onListening: { port in
                logger.notice("listening", metadata: ["host": "\(configuration.server.host)", "port": "\(port)"])
            })
        } catch let error as JournalError where error.kind == .corrupt {
            // A damaged journal is kept as it is and reported over HTTP until SIGTERM; the exit status is then 1.
            logger.critical("cannot start: the journal is damaged; serving only a failing /health", metadata: ["error": "\(error)"])
            printError("sluice: cannot start: \(error)")
            try await serveFailure(configuration: configuration, problem: error.description, logger: logger)
            throw ExitCode(1)
        } catch {
            logger.critical("cannot start", metadata: ["error": "\(error)"])
            printError("sluice: cannot start: \(error)")
            throw ExitCode(1)
        }
        let group = ServiceGroup(
            configuration: .init(
                services: app.services,
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger
            )
        )
        do {
            try await group.run()
        } catch {
            await app.shutdown()
            logger.critical("stopped on error", metadata: ["error": "\(error)"])
            printError("sluice: \(error)")
            throw ExitCode(1)
        }
        await app.shutdown()
        logger.notice("stopped")
    }
}

/// Runs the HTTP listener of ``FailedStartApp`` until SIGTERM or SIGINT.
func serveFailure(configuration: SluiceConfiguration, problem: String, logger: Logger) async throws {
    let failed = FailedStartApp(configuration: configuration, problem: problem, logger: logger, onListening: { port in
        logger.notice("listening", metadata: ["host": "\(configuration.server.host)", "port": "\(port)", "mode": "failed"])
    })
    let group = ServiceGroup(
        configuration: .init(services: failed.services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
    do {
        try await group.run()
    } catch {
        logger.critical("stopped on error", metadata: ["error": "\(error)"])
    }
}

func loadConfiguration(file: String?, environment: [String: String]) async throws -> (SluiceConfiguration, [ConfigProblem]) {
    do {
        return try await SluiceConfiguration.load(file: file, environment: environment)
    } catch let error as ConfigurationError {
        printError(error.description)
        throw ExitCode(1)
    }
}

func bootstrapLogging(_ settings: SluiceConfiguration.LogSettings) {
    let level = Logger.Level(rawValue: settings.level) ?? .info
    if settings.format == "text" {
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
    } else {
        LoggingSystem.bootstrap { label in JSONLogHandler(label: label, level: level) }
    }
}

func printError(_ message: String) {
    FileHandle.standardError.write(Data((message + "\n").utf8))
}
