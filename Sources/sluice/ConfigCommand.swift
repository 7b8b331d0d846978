import ArgumentParser
import Foundation
import SluiceCore
import SluiceServer

struct ConfigCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "config",
        abstract: "Check a configuration.",
        subcommands: [Check.self]
    )

    struct Check: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print the resolved configuration with secrets redacted, or each bad key with its reason (exit 1).",
            discussion: "SLUICE_* environment variables are applied on top of the file, as `sluice serve` does."
        )

        @Argument(help: "YAML configuration file.")
        var file: String

        func run() async throws {
            let (configuration, problems) = try await loadConfiguration(file: file, environment: ProcessInfo.processInfo.environment)
            let all = problems + configuration.serveProblems
            guard all.isEmpty else {
                printError(ConfigurationError(problems: all).description)
                throw ExitCode(1)
            }
            print(configuration.redactedYAML(), terminator: "")
        }
    }
}
