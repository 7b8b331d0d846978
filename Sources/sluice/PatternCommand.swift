import ArgumentParser
import EventPattern
import Foundation
import SluiceCore
import SluiceIntake
import SluiceServer

struct PatternCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pattern",
        abstract: "Work with EventBridge event patterns.",
        subcommands: [Test.self, Render.self]
    )

    struct Render: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print the EventBridge pattern Sluice enforces, for a rule's EventPattern.",
            discussion: """
                The pattern is built from the configuration (intake.bucket, intake.min_size, the domains' prefixes), \
                exactly as `sluice serve` builds it, so the EventBridge rule and Sluice's own filter cannot drift apart.
                """
        )

        @Option(name: .shortAndLong, help: "YAML configuration file.")
        var config: String?

        @Option(help: "Only this domain's key prefix (one rule per domain).")
        var domain: String?

        @Option(help: "Bucket to write into the pattern instead of intake.bucket (for example a template reference).")
        var bucket: String?

        func run() async throws {
            let (configuration, problems) = try await loadConfiguration(file: config, environment: ProcessInfo.processInfo.environment)
            if !problems.isEmpty {
                printError(ConfigurationError(problems: problems).description)
                throw ExitCode(1)
            }
            var intake = configuration.intake
            if let bucket { intake.bucket = bucket }
            if let domain {
                guard let d = intake.domains.first(where: { $0.name == domain }) else {
                    printError("unknown domain \(domain); configured: \(intake.domains.map(\.name).joined(separator: ", "))")
                    throw ExitCode(2)
                }
                intake.domains = [d]
            }
            print(Intake.defaultPattern(intake).serialized())
        }
    }

    struct Test: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print true if the event matches the pattern, false if not (exit 0 either way).",
            discussion: "Exit status 2 with a message when the pattern or the event is not valid."
        )

        @Argument(help: "EventBridge pattern JSON file.")
        var pattern: String

        @Argument(help: "Event JSON file.")
        var event: String

        func run() async throws {
            let compiled: EventPattern
            do {
                compiled = try EventPattern(json: try read(pattern, what: "pattern"))
            } catch let error as PatternInputError {
                printError(error.message)
                throw ExitCode(2)
            } catch {
                printError("invalid pattern \(pattern): \(error)")
                throw ExitCode(2)
            }
            let eventJSON: JSONValue
            do {
                eventJSON = try read(event, what: "event")
            } catch let error as PatternInputError {
                printError(error.message)
                throw ExitCode(2)
            }
            print(compiled.matches(eventJSON) ? "true" : "false")
        }

        struct PatternInputError: Error {
            var message: String
        }

        func read(_ path: String, what: String) throws -> JSONValue {
            let data: Data
            do {
                data = try Data(contentsOf: URL(fileURLWithPath: path))
            } catch {
                throw PatternInputError(message: "cannot read \(what) file \(path): \(error.localizedDescription)")
            }
            do {
                return try JSONValue.parse(Array(data), maxDepth: 128)
            } catch {
                throw PatternInputError(message: "invalid \(what) \(path): \(error)")
            }
        }
    }
}
